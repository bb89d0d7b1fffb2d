// Validation of endpoint fields, shared by create, update and REST Hooks subscribe. A destination is also
// checked against the outbound address policy here (a clear 400 at once); the sender checks again at send
// time against the address it actually connects to.
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { ValidationError } from '../../errors.js';
import { createAddressPolicy } from '../../outbound/address-policy.js';
import { EVENT_TYPE_PATTERN } from '../../outbound/event-filter.js';
import type { Ctx } from '../context.js';

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
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

export async function parseDestination(ctx: Ctx, raw: unknown, field = 'url'): Promise<string> {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2000) {
    throw new ValidationError(`${field} is required: an http(s) URL of at most 2000 characters`, { field });
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
  const policy = createAddressPolicy(ctx.config.outboundAllow);
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
    if (why) throw new ValidationError(`${field} is not allowed: ${host} is ${why.replace(/^\S+ is /, '')}`, { field });
  }
  return url.toString();
}

export function parseEventTypes(raw: unknown, field = 'eventTypes'): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 200) throw new ValidationError(`${field} must be a list of up to 200 event types`, { field });
  raw.forEach((t, i) => {
    if (typeof t !== 'string' || t.length > 200 || !EVENT_TYPE_PATTERN.test(t)) {
      throw new ValidationError(`${field}[${i}] must be an event type ("subscription.canceled") or a prefix ("subscription.*")`, { field });
    }
  });
  return [...new Set(raw as string[])];
}

export function parseRateLimit(raw: unknown): number | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 10_000) {
    throw new ValidationError('rateLimit must be a whole number of deliveries per second, 1 to 10000, or null', { field: 'rateLimit' });
  }
  return raw;
}

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
    out[name.toLowerCase()] = value;
  }
  return out;
}

export function parseDescription(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string' || raw.length > 500)
    throw new ValidationError('description must be a string of at most 500 characters', { field: 'description' });
  return raw;
}
