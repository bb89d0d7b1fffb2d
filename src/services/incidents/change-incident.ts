// What a person does with an incident: acknowledge it (someone is on it), resolve it, ignore it (it stays live
// but suppressed: a recurrence folds into it without re-opening or announcing anything), or reopen a resolved or
// ignored one. Each is recorded with who did it, in the incident and in the audit log.
import { findOtherLiveIncident, reopenIncidentRow, setIncidentStatusByHand } from '../../db/queries/incident-inbox.js';
import { findIncident, type IncidentRow } from '../../db/queries/incidents.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ConflictError, NotFoundError, WorkspaceNotFoundError } from '../../errors.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { principalRef } from '../workspaces/authenticate.js';
import { incidentView, type IncidentView } from './incident-view.js';
import { resolveIncidentRow } from './raise-incident.js';

export const INCIDENT_ACTIONS = ['acknowledge', 'resolve', 'ignore', 'reopen'] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

/** The statuses each action may start from; anything else is a 409 that says why. */
const FROM: Record<IncidentAction, readonly IncidentRow['status'][]> = {
  acknowledge: ['open'],
  resolve: ['open', 'acknowledged', 'ignored'],
  ignore: ['open', 'acknowledged'],
  reopen: ['resolved', 'ignored'],
};

function refused(action: IncidentAction, row: IncidentRow): ConflictError {
  const why: Record<IncidentAction, string> = {
    acknowledge:
      row.status === 'acknowledged'
        ? 'it is acknowledged already'
        : `it is ${row.status}; only an open incident can be acknowledged${row.status === 'resolved' ? ' (reopen it first)' : ''}`,
    resolve: 'it is resolved already',
    ignore: row.status === 'ignored' ? 'it is ignored already' : 'it is resolved; reopen it first to ignore it',
    reopen: `it is ${row.status}, not resolved or ignored`,
  };
  return new ConflictError('INCIDENT_STATUS_CONFLICT', `incident ${row.id} cannot be ${PAST[action]}: ${why[action]}`);
}

const PAST: Record<IncidentAction, string> = {
  acknowledge: 'acknowledged',
  resolve: 'resolved',
  ignore: 'ignored',
  reopen: 'reopened',
};

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown })?.code === '23505';
}

export async function changeIncident(
  ctx: Ctx,
  actor: Actor,
  workspaceId: string,
  id: string,
  action: IncidentAction,
): Promise<IncidentView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const by = actor.kind === 'cli' ? 'cli' : principalRef(actor);
  const at = new Date(ctx.now());
  let from: IncidentRow['status'] | undefined;
  const changed = await ctx.db
    .transaction(async (tx) => {
      const row = await findIncident(tx, workspaceId, id, true);
      if (!row) throw new NotFoundError('INCIDENT_NOT_FOUND', `no incident ${JSON.stringify(id)} in this workspace`);
      from = row.status;
      if (!FROM[action].includes(row.status)) throw refused(action, row);
      switch (action) {
        case 'acknowledge':
          return setIncidentStatusByHand(tx, row.id, 'acknowledged', by, at);
        case 'ignore':
          return setIncidentStatusByHand(tx, row.id, 'ignored', by, at);
        case 'resolve':
          // Announced once: incident.resolved's dedupe key is the incident's id.
          return resolveIncidentRow(ctx, tx, row, by);
        case 'reopen': {
          // An ignored incident is the live one of its key; a resolved one may have been followed by a new one.
          const other = row.status === 'resolved' ? await findOtherLiveIncident(tx, workspaceId, row.dedup_key, row.id) : undefined;
          if (other) {
            throw new ConflictError(
              'INCIDENT_KEY_LIVE',
              `incident ${row.id} cannot be reopened: ${other.id} (${other.status}) is the live incident of ${row.dedup_key}; work on that one`,
            );
          }
          return reopenIncidentRow(tx, row.id, at);
        }
      }
    })
    .catch((err: unknown) => {
      // Another incident of the key was opened between the check and the update: the unique index refused it.
      if (action === 'reopen' && isUniqueViolation(err)) {
        throw new ConflictError('INCIDENT_KEY_LIVE', `incident ${id} cannot be reopened: another incident of its key is live now`);
      }
      throw err;
    });
  await recordAudit(ctx, actor, workspaceId, `incident.${action}`, changed.id, { kind: changed.kind, from, to: changed.status });
  return incidentView(changed);
}
