// A new signing secret for an endpoint. The previous one keeps signing beside it for 24 hours, so a receiver
// can switch at its own pace: every delivery in that window verifies with either secret (or any of them, after
// several rotations within a day). Recorded in the audit
// log (who rotated which endpoint's secret), in the same transaction; the secret itself never is.
import { findEndpoint, updateEndpoint } from '../../db/queries/endpoints.js';
import { NotFoundError } from '../../errors.js';
import { generateEndpointSecret } from '../../outbound/sign.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { openEndpoint, ROTATION_OVERLAP_MS, sealEndpoint } from './endpoint-view.js';

/** Secrets signing at once after rotations in quick succession: the current one and the four before it. */
const MAX_SIGNING_SECRETS = 5;

export async function rotateEndpointSecret(
  ctx: Ctx,
  actor: Actor,
  workspaceId: string,
  endpointId: string,
): Promise<{ id: string; secret: string; previousSecretExpiresAt: string }> {
  return ctx.db.transaction(async (tx) => {
    const row = await findEndpoint(tx, workspaceId, endpointId, true);
    if (!row) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
    const sealed = openEndpoint(ctx, row);
    const now = ctx.now();
    const expiresAt = new Date(now + ROTATION_OVERLAP_MS).toISOString();
    const secret = generateEndpointSecret();
    // The secret being replaced gets its 24 hours; older ones still inside theirs keep them (two rotations in a
    // row, a double click or a client's retry, must not cut off receivers still on the first secret). Expired ones
    // go, and at most MAX_SIGNING_SECRETS sign at once.
    const previous = sealed.secrets.find((s) => s.expiresAt === null);
    const stillValid = sealed.secrets.filter((s) => s.expiresAt !== null && Date.parse(s.expiresAt) > now);
    const secrets = [{ secret, expiresAt: null }, ...(previous ? [{ secret: previous.secret, expiresAt }] : []), ...stillValid].slice(
      0,
      MAX_SIGNING_SECRETS,
    );
    await updateEndpoint(tx, row.id, { secretsSealed: sealEndpoint(ctx, { ...sealed, secrets }) });
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'endpoint.secret_rotated', row.id, {
      previousSecretExpiresAt: previous ? expiresAt : null,
    });
    ctx.log.info({ workspaceId, endpointId }, 'endpoint secret rotated');
    return { id: row.id, secret, previousSecretExpiresAt: expiresAt };
  });
}
