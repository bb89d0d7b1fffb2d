// An inbound webhook that failed verification: counted per provider and reason (metrics and the health view),
// then answered 400. Recording is best effort: diagnostics must not turn a 400 into a 503, or the provider
// would retry a forged request.
import { SecretUnreadableError, SignatureInvalidError, type SignatureFailureReason } from '../../errors.js';
import type { Ctx } from '../context.js';
import { countRejection } from './inbound-runtime.js';

export async function rejectWebhook(
  ctx: Ctx,
  provider: 'stripe' | 'piano',
  workspaceId: string,
  reason: SignatureFailureReason,
): Promise<never> {
  ctx.metrics.inboundRejections.inc({ provider, reason });
  try {
    await countRejection(ctx, { workspaceId, provider, reason });
  } catch (err) {
    ctx.log.warn({ err, workspaceId, provider, reason }, 'could not record a rejected webhook');
  }
  throw new SignatureInvalidError(reason);
}

/** Opens the connection's secrets; an unreadable one is counted (metrics) before its 503 reaches the provider. */
export function countUnreadable<T>(ctx: Ctx, provider: 'stripe' | 'piano', open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (err instanceof SecretUnreadableError) ctx.metrics.inboundRejections.inc({ provider, reason: 'secret_unreadable' });
    throw err;
  }
}
