// The numbers an operator opens the health view for: is each provider sending, is anything being
// rejected and why, is processing keeping up, which event types nobody handles.
import { EVENT_COUNT_LIMIT, eventStatsByProvider, processingLag, unhandledTypes } from '../../db/queries/events.js';
import { deliveryStatsByEndpoint } from '../../db/queries/deliveries.js';
import { listEndpoints, type EndpointRow } from '../../db/queries/endpoints.js';
import { countOpenIncidentsByKind, lastScanRun } from '../../db/queries/incident-inbox.js';
import { listIncidents } from '../../db/queries/incidents.js';
import { stripeDeliveryLag } from '../../db/queries/lag-samples.js';
import { listRejections } from '../../db/queries/inbound-rejections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { credentialsState, type CredentialsState } from '../connections/credentials-state.js';
import { LAG_WINDOW_MS } from '../incidents/sample-lag.js';

const PROVIDERS = ['stripe', 'piano'] as const;

export interface ProviderHealth {
  /** `unreadable`: the master key cannot open the stored secrets, so every webhook is answered 503 SECRET_UNREADABLE. */
  credentials: CredentialsState;
  lastEventAt: string | null;
  counts: { received: number; processed: number; ignored: number; failed: number };
  /** Each count is exact below this; a count equal to it means at least this many (counting further would
   *  read the workspace's whole history on every look). */
  countLimit: number;
  lastSignatureFailure: { at: string; reason: string } | null;
  rejections: { reason: string; count: number; lastAt: string }[];
  unhandledTypes: { type: string; count: number }[];
  lag: {
    pending: number;
    oldestPendingSeconds: number;
    recentMeanSeconds: number | null;
    /** Stripe only: the p95 of received − Stripe's `created` over the last 15 minutes (what webhook_lag watches);
     *  null without events in that window, and always for Piano (its events carry no reliable creation time). */
    deliveryP95Seconds: number | null;
  };
  /** Piano only: the Piano proxy's destinations and how their deliveries stand. */
  forwards?: {
    id: string;
    url: string;
    enabled: boolean;
    state: EndpointRow['state'];
    pending: number;
    failed: number;
    succeeded: number;
    failingSince: string | null;
    lastSuccessAt: string | null;
  }[];
}

export interface OutboundHealth {
  /** Endpoints by state; paused ones are not disabled (their deliveries are created and wait). */
  endpoints: Record<EndpointRow['state'], number>;
  deliveries: { pending: number; failed: number; succeeded: number; oldestPendingSeconds: number | null };
  /** Enabled endpoints whose last attempts failed, with when the failures began. */
  failingEndpoints: { id: string; url: string; failingSince: string }[];
  /** The live incidents of endpoints (every kind of incident: the workspace's `incidents`). */
  openIncidents: { id: string; kind: string; endpointId: string | null; detail: string; openedAt: string }[];
}

async function outboundHealth(
  ctx: Ctx,
  workspaceId: string,
  endpoints: EndpointRow[],
  stats: Awaited<ReturnType<typeof deliveryStatsByEndpoint>>,
): Promise<OutboundHealth> {
  const incidents = await listIncidents(ctx.db, workspaceId, 50);
  const oldest = stats.map((s) => s.oldest_pending_seconds).filter((x): x is number => x !== null);
  return {
    endpoints: {
      enabled: endpoints.filter((e) => e.state === 'enabled').length,
      paused: endpoints.filter((e) => e.state === 'paused').length,
      disabled: endpoints.filter((e) => e.state === 'disabled').length,
    },
    deliveries: {
      pending: stats.reduce((n, s) => n + s.pending, 0),
      failed: stats.reduce((n, s) => n + s.failed, 0),
      succeeded: stats.reduce((n, s) => n + s.succeeded, 0),
      oldestPendingSeconds: oldest.length ? Math.round(Math.max(...oldest)) : null,
    },
    failingEndpoints: endpoints
      .filter((e) => e.enabled && e.failing_since)
      .map((e) => ({ id: e.id, url: e.url, failingSince: e.failing_since!.toISOString() })),
    openIncidents: incidents
      .filter((i) => i.endpoint_id !== null)
      .map((i) => ({
        id: i.id,
        kind: i.kind,
        endpointId: i.endpoint_id,
        detail: i.detail ?? i.title,
        openedAt: i.opened_at.toISOString(),
      })),
  };
}

export interface IncidentHealth {
  /** Open and acknowledged incidents by kind (ignored ones are suppressed and not counted). */
  open: Record<string, number>;
  /** The newest reconciliation scan, whatever its state (finishedAt null while it runs). */
  lastScan: { provider: string | null; runId: string; status: string; finishedAt: string | null } | null;
}

async function incidentHealth(ctx: Ctx, workspaceId: string): Promise<IncidentHealth> {
  const [open, scan] = await Promise.all([countOpenIncidentsByKind(ctx.db, workspaceId), lastScanRun(ctx.db, workspaceId)]);
  return {
    open: Object.fromEntries(open.map((r) => [r.kind, r.count])),
    lastScan: scan
      ? { provider: scan.provider, runId: scan.id, status: scan.status, finishedAt: scan.finished_at?.toISOString() ?? null }
      : null,
  };
}

export async function getHealth(
  ctx: Ctx,
  workspaceId: string,
): Promise<{ workspaceId: string; providers: Record<string, ProviderHealth>; outbound: OutboundHealth; incidents: IncidentHealth }> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const [stats, rejections, unhandled, lag, deliveryLag, incidents] = await Promise.all([
    eventStatsByProvider(ctx.db, workspaceId),
    listRejections(ctx.db, workspaceId),
    unhandledTypes(ctx.db, workspaceId),
    processingLag(ctx.db, workspaceId),
    stripeDeliveryLag(ctx.db, new Date(ctx.now() - LAG_WINDOW_MS), workspaceId),
    incidentHealth(ctx, workspaceId),
  ]);
  const providers: Record<string, ProviderHealth> = {};
  for (const provider of PROVIDERS) {
    const mine = stats.filter((s) => s.provider === provider);
    const counts = { received: 0, processed: 0, ignored: 0, failed: 0 };
    for (const s of mine) counts[s.status] = s.count;
    const last = mine.reduce<Date | null>((acc, s) => (acc === null || s.lastReceivedAt > acc ? s.lastReceivedAt : acc), null);
    const rej = rejections.filter((r) => r.provider === provider); // newest first
    const l = lag.find((x) => x.provider === provider);
    providers[provider] = {
      credentials: await credentialsState(ctx, workspaceId, provider),
      lastEventAt: last?.toISOString() ?? null,
      counts,
      countLimit: EVENT_COUNT_LIMIT,
      lastSignatureFailure: rej[0] ? { at: rej[0].lastAt.toISOString(), reason: rej[0].reason } : null,
      rejections: rej.map((r) => ({ reason: r.reason, count: r.count, lastAt: r.lastAt.toISOString() })),
      unhandledTypes: unhandled.filter((u) => u.provider === provider).map((u) => ({ type: u.type, count: u.count })),
      lag: {
        pending: l?.pending ?? 0,
        oldestPendingSeconds: Math.round((l?.oldestPendingSeconds ?? 0) * 1000) / 1000,
        recentMeanSeconds: l?.recentMeanSeconds == null ? null : Math.round(l.recentMeanSeconds * 1000) / 1000,
        deliveryP95Seconds: provider === 'stripe' && deliveryLag[0] ? Math.round(deliveryLag[0].p95Seconds * 1000) / 1000 : null,
      },
    };
  }
  const [endpoints, deliveryStats] = await Promise.all([
    listEndpoints(ctx.db, { workspaceId, limit: 10_000 }),
    deliveryStatsByEndpoint(ctx.db, workspaceId),
  ]);
  const byEndpoint = new Map(deliveryStats.map((d) => [d.endpoint_id, d]));
  providers.piano!.forwards = endpoints
    .filter((e) => e.kind === 'forward')
    .map((e) => ({
      id: e.id,
      url: e.url,
      enabled: e.enabled,
      state: e.state,
      pending: byEndpoint.get(e.id)?.pending ?? 0,
      failed: byEndpoint.get(e.id)?.failed ?? 0,
      succeeded: byEndpoint.get(e.id)?.succeeded ?? 0,
      failingSince: e.failing_since?.toISOString() ?? null,
      lastSuccessAt: e.last_success_at?.toISOString() ?? null,
    }));
  return { workspaceId, providers, outbound: await outboundHealth(ctx, workspaceId, endpoints, deliveryStats), incidents };
}
