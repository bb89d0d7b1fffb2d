// The Piano proxy's destinations. Piano allows one webhook URL per application; Sluice is that URL and resends
// each stored Piano webhook to every enabled destination as Piano sent it (same method, the same `data` string
// byte for byte), so each can decrypt and check it with its own copy of the key. A destination is an outbound
// endpoint of kind 'forward': attempts are logged and retried like every delivery, and one that is down
// delays neither the others nor Piano's answer.
import { deleteEndpoint } from '../../db/queries/endpoints.js';
import { findConnection } from '../../db/queries/connections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, ProviderNotConnectedError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { createEndpoint } from './create-endpoint.js';
import { listEndpoints } from './endpoint-read.js';
import { asObject } from '../input.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';

export async function createPianoForward(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor) {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !['url', 'description'].includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected url, description`);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  if (!(await findConnection(ctx.db, workspaceId, 'piano'))) throw new ProviderNotConnectedError('piano');
  const { secret: _unused, ...created } = await createEndpoint(
    ctx,
    workspaceId,
    { url: body.url, eventTypes: ['piano.*'], description: body.description ?? 'Piano proxy destination' },
    'forward',
  );
  // The URL's origin only: a path or query may carry the destination's own token.
  await recordAudit(ctx, actor, workspaceId, 'piano.forward.added', created.id, { origin: new URL(created.url).origin });
  return created;
}

/** A page of them (`limit`, `cursor`; the settings page asks for 500), with their delivery counts for the API;
 *  `withStats: false` skips the counts (a GROUP BY over every delivery of the workspace), for the settings page,
 *  which shows each destination's state only. */
export async function listPianoForwards(
  ctx: Ctx,
  workspaceId: string,
  q: { limit?: unknown; cursor?: unknown } = {},
  o: { withStats?: boolean } = {},
) {
  return listEndpoints(ctx, workspaceId, { limit: q.limit, cursor: q.cursor, kind: 'forward' }, o);
}

export async function deletePianoForward(ctx: Ctx, workspaceId: string, id: string, actor: Actor): Promise<void> {
  if (!(await deleteEndpoint(ctx.db, workspaceId, id, 'forward'))) {
    throw new NotFoundError('FORWARD_NOT_FOUND', `no Piano forward destination ${JSON.stringify(id)} in this workspace`);
  }
  await recordAudit(ctx, actor, workspaceId, 'piano.forward.removed', id);
}
