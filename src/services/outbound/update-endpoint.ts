// PATCH an endpoint: fields present are replaced, absent ones kept. Re-enabling a disabled endpoint clears its
// failure clock and resolves its open incidents.
import { findEndpoint, updateEndpoint as writeEndpoint, type EndpointChanges } from '../../db/queries/endpoints.js';
import { resolveEndpointIncidents } from '../../db/queries/incidents.js';
import { publishMessage } from '../../db/queries/messages.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { parseDescription, parseDestination, parseEventTypes, parseHeaders, parseRateLimit } from './endpoint-input.js';
import { openEndpoint, sealEndpoint, toEndpointView, type EndpointView } from './endpoint-view.js';
import { asObject, optionalBoolean } from '../input.js';

const FIELDS = ['url', 'eventTypes', 'description', 'rateLimit', 'headers', 'enabled'];

export async function updateEndpoint(ctx: Ctx, workspaceId: string, endpointId: string, input: unknown): Promise<EndpointView> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected ${FIELDS.join(', ')}`);
  const changes: EndpointChanges = {};
  if (body.url !== undefined) changes.url = await parseDestination(ctx, body.url);
  if (body.eventTypes !== undefined) changes.eventTypes = parseEventTypes(body.eventTypes);
  if (body.description !== undefined) changes.description = parseDescription(body.description);
  if ('rateLimit' in body) changes.rateLimit = parseRateLimit(body.rateLimit);
  const headers = body.headers === undefined ? undefined : parseHeaders(body.headers);
  const enabled = optionalBoolean(body, 'enabled');

  return ctx.db.transaction(async (tx) => {
    const row = await findEndpoint(tx, workspaceId, endpointId, true);
    if (!row) throw new NotFoundError('ENDPOINT_NOT_FOUND', `no endpoint ${JSON.stringify(endpointId)} in this workspace`);
    if (headers) {
      changes.headers = Object.keys(headers) as unknown as Record<string, string>;
      changes.secretsSealed = sealEndpoint(ctx, { ...openEndpoint(ctx, row), headers });
    }
    if (enabled !== undefined && enabled !== row.enabled) {
      changes.enabled = enabled;
      changes.disabledReason = enabled ? null : 'disabled by an operator';
    }
    const updated = await writeEndpoint(tx, row.id, changes);
    if (changes.enabled === true) {
      for (const incident of await resolveEndpointIncidents(tx, row.id)) {
        await publishMessage(tx, {
          id: newId('msg', ctx.now()),
          workspaceId,
          type: 'incident.resolved',
          data: {
            incident: {
              id: incident.id,
              kind: incident.kind,
              endpointId: row.id,
              detail: incident.detail,
              resolvedAt: new Date(ctx.now()).toISOString(),
            },
          },
          sourceProvider: null,
          sourceEventId: null,
          dedupeKey: `incident.resolved:${incident.id}`,
          firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
        });
      }
    }
    ctx.log.info({ workspaceId, endpointId, fields: Object.keys(body) }, 'endpoint updated');
    return toEndpointView(updated);
  });
}
