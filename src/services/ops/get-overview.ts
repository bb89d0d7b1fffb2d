// The overview of a workspace: the onboarding checklist, the charts of the last hour, day or week, the queues
// and the open incidents. Completed hours come from the hourly rollups (each computed once, on the first view
// that needs it); the rest is a range scan of the span's ids. Nothing counts the whole history.
import { findConnection } from '../../db/queries/connections.js';
import {
  attemptBuckets,
  eventBuckets,
  fillRollups,
  onboardingFacts,
  openIncidents,
  pendingDeliveries,
  pruneRollups,
  readRollups,
  rolledHours,
  type Span,
} from '../../db/queries/console-stats.js';
import { processingLag } from '../../db/queries/events.js';
import { listRejections } from '../../db/queries/inbound-rejections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import { idFloor } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { openSealedSecrets } from '../connections/open-sealed-secrets.js';
import { assembleSeries, missingRuns, planRange, type OverviewSeries, type Range } from './overview-buckets.js';
import { explainRejection } from './rejection-reasons.js';

export interface OverviewView {
  range: Range;
  bucketSeconds: number;
  onboarding: { secretStored: boolean; anyEvent: boolean; anyEndpoint: boolean; anySuccess: boolean };
  series: OverviewSeries;
  queue: {
    pendingEvents: number;
    oldestPendingEventSeconds: number;
    pendingDeliveries: number;
    oldestPendingDeliverySeconds: number | null;
  };
  rejections: { provider: string; reason: string; words: string; count: number; lastAt: string; inRange: boolean }[];
  incidents: { id: string; endpointId: string | null; kind: string; detail: string; openedAt: string }[];
}

/** Rollups older than the longest range are dropped when new hours are stored. */
const KEEP_ROLLUPS_MS = 8 * 24 * 3600_000;

function span(fromSeconds: number, toSeconds: number): Span {
  return {
    lo: new Date(fromSeconds * 1000),
    hi: new Date(toSeconds * 1000),
    loId: idFloor('ev', fromSeconds * 1000),
    hiId: idFloor('ev', toSeconds * 1000),
  };
}

async function secretStored(ctx: Ctx, workspaceId: string): Promise<boolean> {
  const [stripe, piano] = await Promise.all([findConnection(ctx.db, workspaceId, 'stripe'), findConnection(ctx.db, workspaceId, 'piano')]);
  try {
    if (stripe && (openSealedSecrets<{ webhookSecrets?: string[] }>(ctx, stripe).webhookSecrets?.length ?? 0) > 0) return true;
    if (piano && openSealedSecrets<{ privateKey?: string }>(ctx, piano).privateKey) return true;
  } catch {
    // unreadable secrets (master key changed): not usable, so not stored as far as onboarding goes
  }
  return false;
}

export async function getOverview(ctx: Ctx, workspaceId: string, range: Range): Promise<OverviewView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const nowMs = ctx.now();
  const plan = planRange(range, nowMs);

  // Completed hours: compute the ones no view has needed yet (once each), then read them all.
  let rollups: Awaited<ReturnType<typeof readRollups>> = [];
  if (plan.rolledHours.length > 0) {
    const from = new Date(plan.rolledHours[0]! * 1000);
    const to = new Date((plan.rolledHours[plan.rolledHours.length - 1]! + 3600) * 1000);
    const done = new Set((await rolledHours(ctx.db, workspaceId, from, to)).map((d) => Math.floor(d.getTime() / 1000)));
    const runs = missingRuns(plan.rolledHours, done);
    if (runs.length > 0) {
      const hours = runs.flatMap((r) =>
        Array.from({ length: (r.to - r.from) / 3600 }, (_, i) => span(r.from + i * 3600, r.from + (i + 1) * 3600)),
      );
      await fillRollups(ctx.db, workspaceId, hours);
      await pruneRollups(ctx.db, workspaceId, new Date(nowMs - KEEP_ROLLUPS_MS));
    }
    rollups = await readRollups(ctx.db, workspaceId, from, to);
  }

  const live = span(plan.liveFrom, plan.liveTo);
  const [events, attempts, facts, stored, lag, deliveries, incidents, rejections] = await Promise.all([
    eventBuckets(ctx.db, workspaceId, live, plan.bucketSeconds),
    attemptBuckets(ctx.db, workspaceId, live, plan.bucketSeconds),
    onboardingFacts(ctx.db, workspaceId),
    secretStored(ctx, workspaceId),
    processingLag(ctx.db, workspaceId),
    pendingDeliveries(ctx.db, workspaceId),
    openIncidents(ctx.db, workspaceId, 20),
    listRejections(ctx.db, workspaceId),
  ]);
  const series = assembleSeries(
    plan,
    { events, attempts },
    rollups.map((r) => ({ hour: Math.floor(r.hour.getTime() / 1000), metric: r.metric, n: Number(r.n), total: Number(r.total) })),
  );
  const rangeStartMs = plan.starts[0]! * 1000;
  return {
    range,
    bucketSeconds: plan.bucketSeconds,
    onboarding: { secretStored: stored, ...facts },
    series,
    queue: {
      pendingEvents: lag.reduce((n, l) => n + l.pending, 0),
      oldestPendingEventSeconds: Math.round(Math.max(0, ...lag.map((l) => l.oldestPendingSeconds))),
      pendingDeliveries: deliveries.pending,
      oldestPendingDeliverySeconds: deliveries.oldestSeconds === null ? null : Math.max(0, Math.round(deliveries.oldestSeconds)),
    },
    rejections: rejections.map((r) => ({
      provider: r.provider,
      reason: r.reason,
      words: explainRejection(r.reason).words,
      count: r.count,
      lastAt: r.lastAt.toISOString(),
      inRange: r.lastAt.getTime() >= rangeStartMs,
    })),
    incidents: incidents.map((i) => ({ ...i, openedAt: i.openedAt.toISOString() })),
  };
}
