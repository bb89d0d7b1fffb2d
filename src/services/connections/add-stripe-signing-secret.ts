// Rotation with overlap: a new signing secret joins the ones already stored (events signed by any of them
// verify), so the endpoint in Stripe can be rolled without a gap; the old one is removed once Stripe stops
// using it (remove-stripe-signing-secret).
import { lockConnection, upsertConnection } from '../../db/queries/connections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { AppError, SecretUnreadableError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';
import { sealedSecretsReadable } from './open-sealed-secrets.js';
import { secretFingerprint } from './stripe-secrets-view.js';
import { openStripeSecrets, parseSecrets, type StripeSecrets } from './stripe-connection.js';

const MAX_SECRETS = 10;

export async function addStripeSigningSecret(ctx: Ctx, workspaceId: string, secret: unknown, actor: Actor): Promise<{ count: number }> {
  if (typeof secret !== 'string' || secret.trim() === '') {
    throw new ValidationError('paste the signing secret (whsec_…) from the endpoint’s page in Stripe', { field: 'webhookSecrets' });
  }
  let clean: string | undefined;
  try {
    [clean] = parseSecrets([secret.trim()]);
  } catch (err) {
    // parseSecrets names the position in a list (webhookSecrets[0]); here there is one secret, typed in a form.
    if (err instanceof ValidationError) {
      throw new ValidationError(err.message.replace(/^webhookSecrets\[0\]/, 'the signing secret'), err.details);
    }
    throw err;
  }
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const count = await changeInboundSettings(ctx, workspaceId, async (tx) => {
    const existing = await lockConnection(tx, workspaceId, 'stripe');
    if (existing && !sealedSecretsReadable(ctx, existing)) throw new SecretUnreadableError('stripe');
    const current: StripeSecrets = existing ? openStripeSecrets(ctx, existing) : { webhookSecrets: [] };
    if (current.webhookSecrets.includes(clean!)) {
      throw new ValidationError('this signing secret is already stored', { field: 'webhookSecrets' });
    }
    if (current.webhookSecrets.length >= MAX_SECRETS) {
      throw new AppError('TOO_MANY_SECRETS', `at most ${MAX_SECRETS} signing secrets are kept: remove an old one first`, 409, false, {
        field: 'webhookSecrets',
      });
    }
    const next: StripeSecrets = { ...current, webhookSecrets: [...current.webhookSecrets, clean!] };
    await upsertConnection(tx, {
      workspaceId,
      provider: 'stripe',
      settings: existing?.settings ?? {},
      secretsSealed: ctx.secretBox.seal(JSON.stringify(next)),
    });
    return next.webhookSecrets.length;
  });
  ctx.log.info({ workspaceId, secrets: count }, 'stripe signing secret added');
  await recordAudit(ctx, actor, workspaceId, 'stripe.signing_secret.added', 'stripe', {
    fingerprint: secretFingerprint(clean!),
    last4: clean!.slice(-4),
    count,
  });
  return { count };
}
