// The signing secret of an endpoint, shown again to an admin who lost it (the API answers it on creation and
// rotation only). Every reveal is in the audit log: who, when, which endpoint; never the secret, nor the URL (a
// receiver's URL may carry a token of its own).
import { findEndpoint } from '../../db/queries/endpoints.js';
import { NotFoundError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { openEndpoint } from './endpoint-view.js';

export async function revealEndpointSecret(
  ctx: Ctx,
  actor: Actor,
  workspaceId: string,
  endpointId: string,
): Promise<{ id: string; secret: string; previousSecretExpiresAt: string | null }> {
  const row = await findEndpoint(ctx.db, workspaceId, endpointId);
  if (!row) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
  const sealed = openEndpoint(ctx, row);
  const current = sealed.secrets.find((s) => s.expiresAt === null) ?? sealed.secrets[0]!;
  const previous = sealed.secrets.find((s) => s.expiresAt !== null && Date.parse(s.expiresAt) > ctx.now());
  await recordAudit(ctx, actor, workspaceId, 'endpoint.secret_revealed', row.id, { kind: row.kind });
  return { id: row.id, secret: current.secret, previousSecretExpiresAt: previous?.expiresAt ?? null };
}
