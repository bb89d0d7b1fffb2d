// Events signed by the official stripe SDK, as Stripe would send them.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

const stripe = new Stripe('sk_test_not_used_for_signing');

export function signStripe(payload: string, secret: string, timestamp?: number): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp === undefined ? {} : { timestamp }) });
}

let seq = 0;
export function stripeEvent(type: string, object: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  seq += 1;
  return JSON.stringify({
    id: `evt_test_${randomBytes(8).toString('hex')}_${seq}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `obj_${seq}`, object: type.split('.')[0], ...object } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    ...extra,
  });
}

export async function postStripe(
  url: string,
  workspaceId: string,
  payload: string | Buffer,
  signature: string | undefined,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/webhooks/stripe/${workspaceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'stripe-signature': signature }) },
    body: payload,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON; keep the text for the assertion message
  }
  return { status: res.status, body };
}
