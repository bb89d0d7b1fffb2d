// Validation of endpoint fields, shared by create, update, REST Hooks subscribe and Piano forwards. A
// destination is also checked against the outbound address policy (private ranges; https unless allowed) here,
// for a clear 400 at once; the sender checks again at send time against the address it actually connects to.
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { UrlNotHttpsError, ValidationError } from '../../errors.js';
import { notOneLineMessage } from '../../lib/single-line.js';
import { createAddressPolicy } from '../../outbound/address-policy.js';
import type { Ctx } from '../context.js';
import { checkEventTypes } from './check-event-types.js';

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
// Set by Sluice on every delivery, or by the HTTP layer: an endpoint cannot override them.
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'upgrade',
  'expect', // undici refuses to send it; an endpoint with it could never be delivered to
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

const MAX_URL = 2000;

export async function parseDestination(ctx: Ctx, raw: unknown, field = 'url'): Promise<string> {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL) {
    throw new ValidationError(`${field} is required: an http(s) URL of at most ${MAX_URL} characters`, { field });
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`${field} is not a valid URL`, { field });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(`${field} must use http or https`, { field });
  if (url.username || url.password) {
    throw new ValidationError(`${field} must not carry credentials; use a custom header (e.g. Authorization) instead`, { field });
  }
  // No connection can be made to port 0: every delivery to it would fail.
  if (url.port === '0')
    throw new ValidationError(`${field} has port 0, which nothing can listen on: give a port from 1 to 65535, or none`, { field });
  // What is stored and sent is the normalised form, which percent-encoding can make several times longer than what
  // was typed, so the documented limit holds for it too.
  const normalised = url.toString();
  if (normalised.length > MAX_URL) {
    throw new ValidationError(
      `${field} is longer than ${MAX_URL} characters once normalised (${normalised.length}: spaces and characters outside ASCII are percent-encoded, é as %C3%A9)`,
      { field },
    );
  }
  const policy = createAddressPolicy(ctx.config.outboundAllow, { allowHttp: ctx.config.outboundAllowHttp });
  // WHATWG URL has already turned decimal, octal and hex hosts ("2130706433", "0x7f.1") into dotted form.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
    } catch {
      // It may resolve later (new DNS record); the sender checks again on every attempt.
      addresses = [];
    }
  }
  for (const a of addresses) {
    const why = policy.refuse(a);
    if (why) throw new ValidationError(`${field} is not allowed: ${why}`, { field });
  }
  if (url.protocol === 'http:' && !ctx.config.outboundAllowHttp) {
    // Plain http is allowed only where every address the name has now is inside SLUICE_OUTBOUND_ALLOW.
    const local = addresses.length > 0 && addresses.every((a) => policy.refusePlainHttp(a) === null);
    if (!local) {
      throw new UrlNotHttpsError(
        field,
        `${field} must use https: webhooks carry customer data and replayable signatures. For a receiver on your own network, list its addresses in SLUICE_OUTBOUND_ALLOW (e.g. 127.0.0.0/8); to allow plain http anywhere, set SLUICE_OUTBOUND_ALLOW_HTTP=true`,
      );
    }
  }
  return normalised;
}

/** A list of event types and prefixes, each one known (see catalog/event-types.ts). */
export async function parseEventTypes(ctx: Ctx, workspaceId: string, raw: unknown, field = 'eventTypes'): Promise<string[]> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 200) throw new ValidationError(`${field} must be a list of up to 200 event types`, { field });
  raw.forEach((t, i) => {
    if (typeof t !== 'string') throw new ValidationError(`${field}[${i}] must be a string such as "subscription.canceled"`, { field });
  });
  const types = [...new Set(raw as string[])];
  await checkEventTypes(ctx, workspaceId, types, field);
  return types;
}

export function parseRateLimit(raw: unknown): number | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 10_000) {
    throw new ValidationError('rateLimit must be a whole number of deliveries per second, 1 to 10000, or null', { field: 'rateLimit' });
  }
  return raw;
}

const NOT_IN_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export function parseHeaders(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ValidationError('headers must be an object of header names to values', { field: 'headers' });
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > 20) throw new ValidationError('headers may hold at most 20 headers', { field: 'headers' });
  const out: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name)) throw new ValidationError(`headers: "${name}" is not a valid header name`, { field: 'headers' });
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      throw new ValidationError(`headers: ${name} is set by Sluice and cannot be overridden`, { field: 'headers' });
    // The value is not quoted back: it may be a credential.
    if (typeof value !== 'string' || value.length > 1000 || /[\r\n\0]/.test(value)) {
      throw new ValidationError(`headers: the value of ${name} must be a single-line string of at most 1000 characters`, {
        field: 'headers',
      });
    }
    // What HTTP allows in a field value (RFC 9110: visible ASCII, space, tab, and bytes 0x80–0xFF) is what the sender
    // can send; anything else (a control character, DEL, an emoji) made every delivery fail for days.
    if (NOT_IN_HEADER_VALUE.test(value)) {
      throw new ValidationError(
        `headers: the value of ${name} holds a character HTTP does not allow in a header (control characters, DEL, or beyond U+00FF such as emoji)`,
        { field: 'headers' },
      );
    }
    out[name.toLowerCase()] = value;
  }
  return out;
}

export function parseDescription(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string' || raw.length > 500)
    throw new ValidationError('description must be a string of at most 500 characters', { field: 'description' });
  const wrong = notOneLineMessage('description', raw);
  if (wrong) throw new ValidationError(wrong, { field: 'description' });
  return raw;
}
