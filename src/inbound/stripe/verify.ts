// Stripe-Signature verification, pure: no I/O, clock injected.
// Scheme (Stripe's docs and stripe-node): header `t=<unix s>,v1=<hex>[,v1=<hex>…][,v0=…]`; each v1 is
// hex(HMAC-SHA256(key = the whole whsec_… string as UTF-8, msg = `${t}.` + raw body bytes)). Every v1 is
// tried against every secret, because during a rotation Stripe sends one v1 per active secret and we may
// hold several. v0 and unknown schemes are ignored (no downgrade). Timestamps from the future are accepted,
// as stripe-node does; replays inside the window are caught by event-id dedupe.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignatureFailureReason } from '../../errors.js';

export interface StripeVerifyInput {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  secrets: readonly string[];
  /** Milliseconds since the epoch. */
  now: number;
  toleranceSeconds: number;
}

export type StripeVerifyResult =
  { ok: true; timestamp: number; secretIndex: number } | { ok: false; reason: Exclude<SignatureFailureReason, 'invalid_payload'> };

interface ParsedHeader {
  timestamp: number;
  signatures: Buffer[];
}

function parseHeader(header: string): ParsedHeader | undefined {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === 'v1') {
      // A v1 that is not an HMAC-SHA256 in hex is a broken header, not a missing signature: saying
      // "no signatures" would send the user looking in the wrong place.
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return undefined;
      signatures.push(Buffer.from(value.toLowerCase(), 'hex'));
    }
  }
  // Without t= nothing can be checked (the timestamp is part of the signed text): the header is malformed,
  // whatever signatures it carries.
  if (timestamp === undefined) return undefined;
  return { timestamp, signatures };
}

export function signStripePayload(rawBody: Buffer, timestamp: number, secret: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.`, 'utf8').update(rawBody).digest();
}

export function verifyStripeSignature(input: StripeVerifyInput): StripeVerifyResult {
  const raw = input.headers['stripe-signature'];
  if (raw === undefined || raw === '') return { ok: false, reason: 'missing_header' };
  if (Array.isArray(raw)) return { ok: false, reason: 'malformed_header' };
  const parsed = parseHeader(raw);
  if (!parsed) return { ok: false, reason: 'malformed_header' };
  if (parsed.signatures.length === 0) return { ok: false, reason: 'no_signatures' };

  let secretIndex = -1;
  // Compute every candidate and compare each in constant time; no early exit on the secret being tried.
  input.secrets.forEach((secret, i) => {
    const expected = signStripePayload(input.rawBody, parsed.timestamp, secret);
    for (const candidate of parsed.signatures) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected) && secretIndex < 0) {
        secretIndex = i;
      }
    }
  });
  if (secretIndex < 0) return { ok: false, reason: 'signature_mismatch' };
  // Checked after the signature so that only a genuine (replayed) request learns about the window.
  if (Math.floor(input.now / 1000) - parsed.timestamp > input.toleranceSeconds) {
    return { ok: false, reason: 'timestamp_outside_tolerance' };
  }
  return { ok: true, timestamp: parsed.timestamp, secretIndex };
}
