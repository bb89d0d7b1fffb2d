// The incident inbox: incidents by status, kind and subject, newest first (keyset-paged), and one incident.
import { listIncidentsPage } from '../../db/queries/incident-inbox.js';
import { findIncident, type IncidentStatus } from '../../db/queries/incidents.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { optionalString, page, parseCursor, parseLimit } from '../input.js';
import { INCIDENT_KINDS, INCIDENT_STATUSES } from './incident-kinds.js';
import { incidentView, type IncidentView } from './incident-view.js';

/** What the inbox shows unless asked otherwise: what still needs someone. */
export const DEFAULT_STATUSES: readonly IncidentStatus[] = ['open', 'acknowledged'];

/** A comma list of allowed values, each named in the error when it is not one of them. */
function commaList<T extends string>(raw: unknown, field: string, allowed: readonly T[]): T[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw new ValidationError(`${field} must be a comma-separated list of ${allowed.join(', ')}`, { field });
  const values = [...new Set(raw.split(',').map((s) => s.trim()))];
  const unknown = values.filter((v) => !allowed.includes(v as T));
  if (unknown.length > 0 || values.length === 0) {
    throw new ValidationError(
      `${field}: ${unknown.map((u) => JSON.stringify(u)).join(', ') || 'an empty value'} is not one of ${allowed.join(', ')}`,
      { field },
    );
  }
  return values as T[];
}

export async function listIncidents(
  ctx: Ctx,
  workspaceId: string,
  q: Record<string, unknown>,
): Promise<{ data: IncidentView[]; nextCursor: string | null }> {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const statuses = commaList(q.status, 'status', INCIDENT_STATUSES) ?? DEFAULT_STATUSES;
  const kinds = commaList(q.kind, 'kind', INCIDENT_KINDS);
  const subject = optionalString(q, 'subject', 200);
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const rows = await listIncidentsPage(ctx.db, { workspaceId, statuses, kinds, subject, before, limit: limit + 1 });
  const p = page(rows, limit);
  return { data: p.data.map(incidentView), nextCursor: p.nextCursor };
}

export async function getIncident(ctx: Ctx, workspaceId: string, id: string): Promise<IncidentView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const row = await findIncident(ctx.db, workspaceId, id);
  if (!row) throw new NotFoundError('INCIDENT_NOT_FOUND', `no incident ${JSON.stringify(id)} in this workspace`);
  return incidentView(row);
}
