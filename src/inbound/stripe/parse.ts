// The minimal shape a verified body must have to be stored as a Stripe event. Anything more specific is the
// projection's business: an event we cannot project is still kept.

import { overUtf8Bytes } from '../../lib/utf8-prefix.js';

export interface StripeEventEnvelope {
  id: string;
  type: string;
  created: number;
  livemode: boolean | null;
  payload: Record<string, unknown>;
}

/** The body as text when the caller decoded it already (it is decoded once per request), else its bytes. */
export function parseStripeEvent(body: Buffer | string): StripeEventEnvelope | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  const data = p.data as Record<string, unknown> | undefined;
  if (
    typeof p.id !== 'string' ||
    p.id.length === 0 ||
    // In bytes: the id is a key of indexes whose entries are bounded in bytes (db/queries/event-inserts.ts).
    overUtf8Bytes(p.id, 255) ||
    p.object !== 'event' ||
    typeof p.type !== 'string' ||
    p.type.length === 0 ||
    typeof p.created !== 'number' ||
    typeof data !== 'object' ||
    data === null ||
    typeof data.object !== 'object' ||
    data.object === null
  ) {
    return undefined;
  }
  return {
    id: p.id,
    type: p.type,
    created: p.created,
    livemode: typeof p.livemode === 'boolean' ? p.livemode : null,
    payload: p,
  };
}
