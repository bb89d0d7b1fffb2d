// The end of a rotation: the old signing secret goes once Stripe signs with the new one. Named by its
// fingerprint (stripe-secrets-view), never by its value; the last secret stays unless an API key remains (the
// same rule as a PUT of the connection), so webhooks are not silently refused by a slip.
import { lockConnection, upsertConnection } from '../../db/queries/connections.js';
import { NotFoundError, ProviderNotConnectedError, SecretUnreadableError, ValidationError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';
import { sealedSecretsReadable } from './open-sealed-secrets.js';
import { secretFingerprint } from './stripe-secrets-view.js';
import { openStripeSecrets, type StripeSecrets } from './stripe-connection.js';

export async function removeStripeSigningSecret(
  ctx: Ctx,
  workspaceId: string,
  fingerprint: unknown,
  actor: Actor,
): Promise<{ count: number }> {
  if (typeof fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(fingerprint)) {
    throw new ValidationError('fingerprint must name a stored signing secret', { field: 'fingerprint' });
  }
  let last4 = '';
  const count = await changeInboundSettings(ctx, workspaceId, async (tx) => {
    const existing = await lockConnection(tx, workspaceId, 'stripe');
    if (!existing) throw new ProviderNotConnectedError('stripe');
    if (!sealedSecretsReadable(ctx, existing)) throw new SecretUnreadableError('stripe');
    const current = openStripeSecrets(ctx, existing);
    const gone = current.webhookSecrets.find((s) => secretFingerprint(s) === fingerprint);
    if (!gone) throw new NotFoundError('SECRET_NOT_FOUND', 'no stored signing secret has this fingerprint (removed already?)');
    last4 = gone.slice(-4);
    const next: StripeSecrets = { ...current, webhookSecrets: current.webhookSecrets.filter((s) => s !== gone) };
    if (next.webhookSecrets.length === 0 && !next.apiKey) {
      throw new ValidationError('this is the only credential of the connection: add the new signing secret before removing the old one', {
        field: 'fingerprint',
      });
    }
    await upsertConnection(tx, {
      workspaceId,
      provider: 'stripe',
      settings: existing.settings,
      secretsSealed: ctx.secretBox.seal(JSON.stringify(next)),
    });
    return next.webhookSecrets.length;
  });
  ctx.log.info({ workspaceId, secrets: count }, 'stripe signing secret removed');
  await recordAudit(ctx, actor, workspaceId, 'stripe.signing_secret.removed', 'stripe', { fingerprint, last4, count });
  return { count };
}
