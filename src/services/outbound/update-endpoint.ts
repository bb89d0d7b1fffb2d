// PATCH an endpoint: fields present are replaced, absent ones kept. `state` is enabled, paused (deliveries are
// created and wait) or disabled (none are created; recover resends); `enabled: true|false` is the older
// spelling of enabled/disabled. Enabling clears the failure clock and resolves the endpoint's open incidents.
import {
  ENDPOINT_STATES,
  findEndpoint,
  updateEndpoint as writeEndpoint,
  type EndpointChanges,
  type EndpointState,
} from '../../db/queries/endpoints.js';
import { openEndpointIncidents } from '../../db/queries/incidents.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { resolveIncidentRow } from '../incidents/raise-incident.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { parseDescription, parseDestination, parseEventTypes, parseHeaders, parseRateLimit } from './endpoint-input.js';
import { openEndpoint, sealEndpoint, toEndpointView, type EndpointView } from './endpoint-view.js';
import { asObject, oneOf, optionalBoolean } from '../input.js';

const FIELDS = ['url', 'eventTypes', 'description', 'rateLimit', 'headers', 'state', 'enabled'];

const REASONS: Record<EndpointState, string | null> = {
  enabled: null,
  paused: 'paused by an operator; deliveries wait',
  disabled: 'disabled by an operator',
};

/** `actor` is who changes it, for the audit log (custom headers are credentials; the URL is where they go). */
export async function updateEndpoint(
  ctx: Ctx,
  workspaceId: string,
  endpointId: string,
  input: unknown,
  actor: Actor,
): Promise<EndpointView> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected ${FIELDS.join(', ')}`);
  const changes: EndpointChanges = {};
  const state = oneOf(body.state, 'state', ENDPOINT_STATES);
  const enabled = optionalBoolean(body, 'enabled');
  if (state !== undefined && enabled !== undefined && (state === 'enabled') !== enabled) {
    throw new ValidationError(`state ${state} and enabled ${enabled} disagree; send state alone`, { field: 'state' });
  }
  const wanted: EndpointState | undefined = state ?? (enabled === undefined ? undefined : enabled ? 'enabled' : 'disabled');
  if (body.url !== undefined) changes.url = await parseDestination(ctx, body.url);
  if (body.eventTypes !== undefined) changes.eventTypes = await parseEventTypes(ctx, workspaceId, body.eventTypes);
  if (body.description !== undefined) changes.description = parseDescription(body.description);
  if ('rateLimit' in body) changes.rateLimit = parseRateLimit(body.rateLimit);
  const headers = body.headers === undefined ? undefined : parseHeaders(body.headers);

  const view = await ctx.db.transaction(async (tx) => {
    const row = await findEndpoint(tx, workspaceId, endpointId, true);
    if (!row) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
    // A Piano proxy destination resends stored Piano webhooks as Piano sent them; any other message has no such
    // request to resend, and each of its deliveries would fail.
    if (row.kind === 'forward' && changes.eventTypes?.some((t) => t !== 'piano.*' && !t.startsWith('piano.'))) {
      throw new ValidationError('a Piano proxy destination forwards Piano webhooks only: eventTypes must be piano.* or piano.<type>', {
        field: 'eventTypes',
      });
    }
    // An empty list means every type for an endpoint; for a destination, every Piano webhook (stored as such, so
    // that it cannot match the other messages).
    if (row.kind === 'forward' && changes.eventTypes?.length === 0) changes.eventTypes = ['piano.*'];
    if (headers) {
      changes.headers = Object.keys(headers) as unknown as Record<string, string>;
      changes.secretsSealed = sealEndpoint(ctx, { ...openEndpoint(ctx, row), headers });
    }
    if (wanted !== undefined && wanted !== row.state) {
      changes.state = wanted;
      changes.disabledReason = REASONS[wanted];
    }
    const updated = await writeEndpoint(tx, row.id, changes);
    if (changes.state === 'enabled') {
      for (const incident of await openEndpointIncidents(tx, row.id)) await resolveIncidentRow(ctx, tx, incident, 'endpoint_enabled');
    }
    ctx.log.info({ workspaceId, endpointId, fields: Object.keys(body) }, 'endpoint updated');
    // Field names only: a header value may be a credential.
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'endpoint.updated', row.id, {
      fields: Object.keys(body),
      ...(headers ? { headerNames: Object.keys(headers) } : {}),
    });
    return toEndpointView(updated);
  });
  // The deliveries a paused (or disabled) endpoint kept waiting are due now: the sender goes at once rather than at
  // its next poll.
  if (wanted === 'enabled') ctx.onDeliveriesQueued();
  return view;
}
