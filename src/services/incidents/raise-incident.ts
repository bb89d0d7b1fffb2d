// Raising and resolving incidents, for every part of Sluice that finds a problem (parity checks, scans, the lag
// monitor, the delivery worker). The caller's transaction holds the incident and its outbound message together:
// `incident.opened` is published once, when a row is opened (never when an occurrence folds into a live one),
// and `incident.resolved` once, when it is resolved.
import {
  openIncidentsOfSubject,
  openOrFoldIncident,
  resolveIncidentByKey,
  setIncidentStatus,
  type IncidentRow,
  type IncidentSeverity,
} from '../../db/queries/incidents.js';
import { publishMessage } from '../../db/queries/messages.js';
import type { Queryable } from '../../db/port.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { incidentView } from './incident-view.js';

export interface IncidentFact {
  workspaceId: string;
  kind: string;
  severity?: IncidentSeverity;
  /** Where the fact was seen: 'stripe', 'piano', 'parity' (a check on Sluice's own CRM), 'outbound', 'ops'. */
  provider: string;
  /** What it is about: a customer id, an endpoint id, a workspace id for workspace-wide facts. */
  subject: string;
  title: string;
  /** Expected vs actual, and the rule that decided. */
  details?: Record<string, unknown>;
  /** Event ids, run id, customer ids: what a person follows to see it. */
  evidence?: Record<string, unknown>;
  endpointId?: string | null;
  /** Distinguishes two facts of one kind about one subject (an access key); part of the dedup key. */
  qualifier?: string;
}

/** kind:provider:subject[:qualifier] — one live incident per key. */
export function dedupKeyOf(f: Pick<IncidentFact, 'kind' | 'provider' | 'subject' | 'qualifier'>): string {
  return [f.kind, f.provider, f.subject, ...(f.qualifier ? [f.qualifier] : [])].join(':');
}

async function publishIncident(ctx: Ctx, tx: Queryable, type: 'incident.opened' | 'incident.resolved', row: IncidentRow): Promise<void> {
  await publishMessage(tx, {
    id: newId('msg', ctx.now()),
    workspaceId: row.workspace_id,
    type,
    data: { incident: incidentView(row) },
    sourceProvider: null,
    sourceEventId: null,
    dedupeKey: `${type}:${row.id}`,
    firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
  });
  ctx.onDeliveriesQueued();
}

/** Opens an incident for the fact or folds it into the live one of its key. */
export async function raiseIncident(ctx: Ctx, tx: Queryable, fact: IncidentFact): Promise<{ incident: IncidentRow; opened: boolean }> {
  const at = new Date(ctx.now());
  const { row, opened } = await openOrFoldIncident(tx, {
    id: newId('inc', ctx.now()),
    workspaceId: fact.workspaceId,
    kind: fact.kind,
    severity: fact.severity ?? 'warning',
    dedupKey: dedupKeyOf(fact),
    subject: fact.subject,
    title: fact.title,
    details: fact.details ?? {},
    evidence: fact.evidence ?? {},
    endpointId: fact.endpointId ?? null,
    at,
  });
  if (opened) await publishIncident(ctx, tx, 'incident.opened', row);
  return { incident: row, opened };
}

/** Resolves the live incident of a key (not an ignored one); undefined when there is none. */
export async function resolveIncidentKey(
  ctx: Ctx,
  tx: Queryable,
  workspaceId: string,
  dedupKey: string,
  by: string,
): Promise<IncidentRow | undefined> {
  const row = await resolveIncidentByKey(tx, workspaceId, dedupKey, by, new Date(ctx.now()));
  if (row) await publishIncident(ctx, tx, 'incident.resolved', row);
  return row;
}

/** Resolves one incident row (by hand, or an endpoint re-enabled). */
export async function resolveIncidentRow(ctx: Ctx, tx: Queryable, row: IncidentRow, by: string): Promise<IncidentRow> {
  const resolved = await setIncidentStatus(tx, row.id, 'resolved', by, new Date(ctx.now()));
  await publishIncident(ctx, tx, 'incident.resolved', resolved);
  return resolved;
}

/**
 * The outcome of checking one subject: every fact found is raised (opened or folded), and every live incident
 * of the checked kinds that was not found again is resolved — the next clean check resolves an incident.
 */
export async function settleSubject(
  ctx: Ctx,
  tx: Queryable,
  input: { workspaceId: string; subject: string; kinds: readonly string[]; found: readonly IncidentFact[]; by: string },
): Promise<{ opened: IncidentRow[]; folded: IncidentRow[]; resolved: IncidentRow[] }> {
  const opened: IncidentRow[] = [];
  const folded: IncidentRow[] = [];
  const resolved: IncidentRow[] = [];
  const stillFound = new Set<string>();
  for (const fact of input.found) {
    stillFound.add(dedupKeyOf(fact));
    const r = await raiseIncident(ctx, tx, fact);
    (r.opened ? opened : folded).push(r.incident);
  }
  for (const row of await openIncidentsOfSubject(tx, input.workspaceId, input.subject, input.kinds)) {
    if (stillFound.has(row.dedup_key)) continue;
    resolved.push(await resolveIncidentRow(ctx, tx, row, input.by));
  }
  return { opened, folded, resolved };
}
