// "Test & connect": the API key is tried against Stripe (listing the account's webhook endpoints, which is what
// the doctor and "Generate base webhook" need) before it is stored, so a mistyped or revoked key is refused
// with Stripe's reason instead of being saved.
import { AppError, ValidationError } from '../../errors.js';
import { createStripeClient, listWebhookEndpoints } from '../../inbound/stripe/api.js';
import type { Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { stripeFailureError } from './create-stripe-endpoint.js';
import { parseApiKey, setStripeConnection, type StripeConnectionView } from './stripe-connection.js';

export async function connectStripeApiKey(
  ctx: Ctx,
  workspaceId: string,
  rawKey: unknown,
  actor: Actor,
): Promise<StripeConnectionView & { endpointsInStripe: number }> {
  if (typeof rawKey !== 'string' || rawKey.trim() === '') {
    throw new ValidationError('paste a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)', { field: 'apiKey' });
  }
  const apiKey = parseApiKey(rawKey.trim())!;
  const listed = await listWebhookEndpoints(await createStripeClient(apiKey, ctx.config.stripeApiUrl));
  if (!listed.ok) {
    const e = stripeFailureError(listed.failure, 'checking the key');
    // A refused key is a problem with the field; an outage stays a 502 (nothing was saved, try again).
    throw new AppError(e.code, e.message, e.status, e.status >= 500, { field: 'apiKey' });
  }
  const view = await setStripeConnection(ctx, workspaceId, { apiKey }, actor);
  return { ...view, endpointsInStripe: listed.endpoints.length };
}
