// An inbound webhook that failed verification: counted per provider and reason (metrics and the health view),
// then answered 400 at once. The health view's count is written in the background (rejection-tally.ts): best
// effort, since diagnostics must neither turn a 400 into a 503 (the provider would retry a forged request) nor
// make a forged request cost more than a valid one.
import { SecretUnreadableError, SignatureInvalidError, type SignatureFailureReason } from '../../errors.js';
import type { Ctx } from '../context.js';
import { countRejection } from './inbound-runtime.js';

export function rejectWebhook(ctx: Ctx, provider: 'stripe' | 'piano', workspaceId: string, reason: SignatureFailureReason): Promise<never> {
  ctx.metrics.inboundRejections.inc({ provider, reason });
  countRejection(ctx, { workspaceId, provider, reason });
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
