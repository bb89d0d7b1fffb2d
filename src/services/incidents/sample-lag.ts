// The lag sample, run by the scheduler every minute: for each workspace,
// - webhook_lag (per provider; Stripe only): the p95 of (received − the provider's created time) of the events
//   received in the last 15 minutes is above the policy's lagThresholdSeconds. It resolves only after the p95
//   has stayed below 80 % of the threshold for two samples in a row (hysteresis: a p95 hovering around the
//   threshold would otherwise open and resolve an incident every minute). How many samples in a row were below
//   is kept in the incident's details. A window without any event counts as below: nothing arrived late.
//   Piano events carry no reliable creation time (access events have none; user events carry the time of the
//   change, not of the sending), so Piano's delivery lag is not computed.
// - processing_backlog (per provider): the oldest event waiting to be processed (due, not waiting for a
//   retry) was queued more than 60 s ago. It resolves at the first sample where none is that old.
// Each incident is raised and resolved through the incidents service: incident.opened / incident.resolved once.
import { liveIncidentsOfKinds, setIncidentDetails } from '../../db/queries/incident-inbox.js';
import type { IncidentRow } from '../../db/queries/incidents.js';
import { dueBacklog, stripeDeliveryLag } from '../../db/queries/lag-samples.js';
import type { Ctx } from '../context.js';
import { loadPolicy } from '../parity/load-policy.js';
import { dedupKeyOf, raiseIncident, resolveIncidentKey } from './raise-incident.js';

export const LAG_WINDOW_MS = 15 * 60_000;
/** A resolve needs the p95 below this share of the threshold … */
export const LAG_RESOLVE_RATIO = 0.8;
/** … for this many samples in a row. */
export const LAG_RESOLVE_SAMPLES = 2;
export const BACKLOG_THRESHOLD_SECONDS = 60;
const BY = 'lag_sample';

export interface LagSampleResult {
  opened: number;
  resolved: number;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export async function sampleLag(ctx: Ctx): Promise<LagSampleResult> {
  const now = ctx.now();
  const result: LagSampleResult = { opened: 0, resolved: 0 };
  const [lags, backlogs, live] = await Promise.all([
    stripeDeliveryLag(ctx.db, new Date(now - LAG_WINDOW_MS)),
    dueBacklog(ctx.db, new Date(now)),
    liveIncidentsOfKinds(ctx.db, ['webhook_lag', 'processing_backlog']),
  ]);
  const liveByKey = new Map(live.map((i) => [`${i.workspace_id}|${i.dedup_key}`, i]));

  // webhook_lag: the workspaces with a sample, and those with a live incident and no sample (nothing arrived).
  const lagOf = new Map(lags.map((l) => [l.workspaceId, l]));
  const lagWorkspaces = new Set([...lagOf.keys(), ...live.filter((i) => i.kind === 'webhook_lag').map((i) => i.workspace_id)]);
  for (const workspaceId of lagWorkspaces) {
    const fact = { workspaceId, kind: 'webhook_lag', provider: 'stripe', subject: workspaceId };
    const incident = liveByKey.get(`${workspaceId}|${dedupKeyOf(fact)}`);
    const sample = lagOf.get(workspaceId);
    const threshold = (await loadPolicy(ctx.db, workspaceId)).lagThresholdSeconds;
    const p95 = sample ? round(sample.p95Seconds) : null;
    const measured = { p95Seconds: p95, samples: sample?.samples ?? 0, thresholdSeconds: threshold, windowMinutes: LAG_WINDOW_MS / 60_000 };
    if (p95 !== null && p95 > threshold) {
      const r = await ctx.db.transaction((tx) =>
        raiseIncident(ctx, tx, {
          ...fact,
          severity: 'warning',
          title: `Stripe webhooks arrive late: p95 ${p95} s over the last 15 minutes (threshold ${threshold} s)`,
          details: { ...measured, expected: `p95 at most ${threshold} s`, actual: `p95 ${p95} s`, belowInARow: 0 },
          evidence: { sampledAt: new Date(now).toISOString() },
        }),
      );
      if (r.opened) result.opened++;
      continue;
    }
    if (!incident || incident.status === 'ignored') continue;
    const below = p95 === null || p95 < threshold * LAG_RESOLVE_RATIO;
    const inARow = below ? Number(incident.details.belowInARow ?? 0) + 1 : 0;
    if (inARow >= LAG_RESOLVE_SAMPLES) {
      const resolved = await ctx.db.transaction(async (tx) => {
        await setIncidentDetails(tx, incident.id, { ...incident.details, ...measured, belowInARow: inARow });
        return resolveIncidentKey(ctx, tx, workspaceId, incident.dedup_key, BY);
      });
      if (resolved) result.resolved++;
    } else {
      await setIncidentDetails(ctx.db, incident.id, { ...incident.details, ...measured, belowInARow: inARow });
    }
  }

  // processing_backlog: raised for each workspace and provider with a due event older than the threshold …
  const behind = new Set<string>();
  for (const b of backlogs) {
    const waited = Math.floor((now - b.oldestQueuedAt.getTime()) / 1000);
    if (waited <= BACKLOG_THRESHOLD_SECONDS) continue;
    const fact = { workspaceId: b.workspaceId, kind: 'processing_backlog', provider: b.provider, subject: b.workspaceId };
    behind.add(`${b.workspaceId}|${dedupKeyOf(fact)}`);
    const r = await ctx.db.transaction((tx) =>
      raiseIncident(ctx, tx, {
        ...fact,
        severity: 'critical',
        title: `Processing is behind: the oldest ${b.provider} event has waited ${waited} s (${b.pending} waiting)`,
        details: {
          expected: `no event waits more than ${BACKLOG_THRESHOLD_SECONDS} s`,
          actual: `${b.pending} waiting, the oldest for ${waited} s`,
          oldestWaitingSeconds: waited,
          pending: b.pending,
          thresholdSeconds: BACKLOG_THRESHOLD_SECONDS,
        },
        evidence: { eventIds: [b.oldestEventId], sampledAt: new Date(now).toISOString() },
      }),
    );
    if (r.opened) result.opened++;
  }
  // … and resolved where no such event is left.
  const stale = live.filter((i: IncidentRow) => i.kind === 'processing_backlog' && i.status !== 'ignored');
  for (const incident of stale) {
    if (behind.has(`${incident.workspace_id}|${incident.dedup_key}`)) continue;
    const resolved = await ctx.db.transaction((tx) => resolveIncidentKey(ctx, tx, incident.workspace_id, incident.dedup_key, BY));
    if (resolved) result.resolved++;
  }
  if (result.opened || result.resolved) ctx.log.info(result, 'lag sample changed incidents');
  return result;
}
