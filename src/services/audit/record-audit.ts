// The audit log: who revealed, rotated or changed a credential or setting. Details never hold a secret.
import { insertAudit } from '../../db/queries/audit-log.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { principalRef, type Principal } from '../workspaces/authenticate.js';

/** Who did it: a principal of the API or console, or 'system' / 'cli' for the process itself. */
export type Actor = Principal | { kind: 'cli' };

export async function recordAudit(
  ctx: Ctx,
  actor: Actor,
  workspaceId: string | null,
  action: string,
  target: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await insertAudit(ctx.db, {
    id: newId('aud', ctx.now()),
    workspaceId,
    actor: actor.kind === 'cli' ? 'cli' : principalRef(actor),
    actorLabel: actor.kind === 'user' ? actor.email : actor.kind === 'workspace' ? 'API key' : actor.kind,
    action,
    target,
    detail,
  });
}
