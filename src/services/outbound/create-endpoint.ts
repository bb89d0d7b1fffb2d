// A new outbound endpoint (or, with kind 'hook', a REST Hooks subscription). Its signing secret is returned
// here and on rotation only.
import { insertEndpoint, type EndpointRow, type EndpointKind } from '../../db/queries/endpoints.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { generateEndpointSecret, isEndpointSecret } from '../../outbound/sign.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { parseDescription, parseDestination, parseEventTypes, parseHeaders, parseRateLimit } from './endpoint-input.js';
import { sealEndpoint, toEndpointView, type EndpointView } from './endpoint-view.js';
import { asObject } from '../input.js';

const FIELDS = ['url', 'eventTypes', 'description', 'rateLimit', 'headers', 'secret'];

export async function createEndpoint(
  ctx: Ctx,
  workspaceId: string,
  input: unknown,
  kind: EndpointKind = 'endpoint',
  /** How the caller named the fields (REST Hooks say targetUrl and event), for error messages. */
  names: { url?: string; eventTypes?: string } = {},
  /** Who creates it, for the audit log: an endpoint's custom headers and chosen secret are credentials. */
  actor?: Actor,
): Promise<EndpointView & { secret: string }> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected ${FIELDS.join(', ')}`);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const url = await parseDestination(ctx, body.url, names.url);
  const eventTypes = await parseEventTypes(ctx, workspaceId, body.eventTypes, names.eventTypes);
  const description = parseDescription(body.description);
  const rateLimit = parseRateLimit(body.rateLimit);
  const headers = parseHeaders(body.headers);
  // Bringing one's own secret eases a migration from another sender; it must still be a proper one.
  if (body.secret !== undefined && (typeof body.secret !== 'string' || !isEndpointSecret(body.secret))) {
    throw new ValidationError('secret must be whsec_ followed by 24 to 64 random bytes in base64', { field: 'secret' });
  }
  const secret = (body.secret as string | undefined) ?? generateEndpointSecret();

  // The endpoint and its audit entry in one transaction: an audit write that fails must not leave an endpoint the
  // caller was told was not created (a retry would make a second one).
  const row: EndpointRow = await ctx.db.transaction(async (tx) => {
    const created = await insertEndpoint(tx, {
      id: newId('ep', ctx.now()),
      workspaceId,
      kind,
      url,
      description,
      eventTypes,
      rateLimit,
      headers: Object.keys(headers) as unknown as Record<string, string>,
      secretsSealed: sealEndpoint(ctx, { secrets: [{ secret, expiresAt: null }], headers }),
    });
    // REST Hooks subscriptions and Piano forwards carry no credential of the caller's (forwards are audited as such).
    if (kind === 'endpoint' && actor) {
      await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'endpoint.created', created.id, {
        origin: new URL(created.url).origin,
        headerNames: Object.keys(headers),
        secretChosen: body.secret !== undefined,
      });
    }
    return created;
  });
  ctx.log.info({ workspaceId, endpointId: row.id, kind, eventTypes }, 'endpoint created');
  return { ...toEndpointView(row), secret };
}
