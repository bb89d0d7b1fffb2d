import { loadConfig } from '../../config.js';
import { checkStripeConnection, type DoctorReport } from '../../services/connections/check-stripe-connection.js';
import { getHealth } from '../../services/ops/get-health.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' } as const;

function printReport(r: DoctorReport): string {
  const lines = [`Stripe connection of ${r.workspaceId} (webhook URL ${r.webhookUrl})`];
  for (const c of r.checks) {
    lines.push(`  [${MARK[c.status]}] ${c.name}: ${c.detail}`);
    if (c.fix && c.status !== 'ok') lines.push(`         fix: ${c.fix}`);
  }
  lines.push(r.ok ? 'All checks passed.' : 'Some checks failed: see "fix" above.');
  return lines.join('\n');
}

type Health = Awaited<ReturnType<typeof getHealth>>;
type Lag = Health['providers'][string]['lag'];

/** What the doctor adds to the connection checks: how far behind each provider is, and what is open. */
function summarize(health: Health): { lag: Record<string, Lag>; incidents: Health['incidents'] } {
  return { lag: Object.fromEntries(Object.entries(health.providers).map(([p, h]) => [p, h.lag])), incidents: health.incidents };
}

function printSummary(ws: string, s: ReturnType<typeof summarize>): string {
  const lines = ['Lag'];
  for (const [provider, l] of Object.entries(s.lag)) {
    lines.push(
      `  ${provider}: ${l.pending} waiting to be processed${l.pending ? ` (oldest ${l.oldestPendingSeconds} s)` : ''}` +
        (l.recentMeanSeconds === null ? '' : `; processed ${l.recentMeanSeconds} s after receipt on average lately`) +
        (provider === 'stripe'
          ? l.deliveryP95Seconds === null
            ? '; no webhook in the last 15 minutes'
            : `; webhooks arrive ${l.deliveryP95Seconds} s after Stripe made them (p95, 15 minutes)`
          : ''),
    );
  }
  const open = Object.entries(s.incidents.open);
  lines.push(
    open.length === 0
      ? 'Open incidents: none'
      : `Open incidents: ${open.map(([kind, n]) => `${kind} ${n}`).join(', ')} (sluice incidents list --workspace ${ws})`,
  );
  const scan = s.incidents.lastScan;
  lines.push(
    scan
      ? `Last scan: ${scan.runId} (${scan.provider ?? 'every provider'}) ${scan.status}${scan.finishedAt ? ` at ${scan.finishedAt}` : ''}`
      : 'Last scan: none yet',
  );
  return lines.join('\n');
}

export const doctorCommand: Command = {
  summary: "check a workspace's Stripe connection and say what to fix",
  help: [
    'Usage: sluice doctor --workspace ID [--json]',
    '',
    'Checks that a signing secret is stored, that recent deliveries verified, that the API key is accepted,',
    'and that a webhook endpoint in Stripe points at this workspace, is enabled and is subscribed to every',
    "event type the CRM handles. Exits 1 when a check fails. Then prints how far behind processing and Stripe's",
    'deliveries are, the open incidents by kind and the last reconciliation scan.',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, { workspace: { type: 'string' }, json: { type: 'boolean' } });
    if (!values.workspace) throw new UsageError('--workspace is required');
    const access = await openAccess(loadConfig());
    let report: DoctorReport;
    let health: Health;
    const base = `/workspaces/${encodeURIComponent(values.workspace)}`;
    try {
      report =
        access.via === 'server'
          ? await access.call<DoctorReport>('GET', `${base}/connections/stripe/doctor`)
          : await checkStripeConnection(access.ctx, values.workspace);
      health = access.via === 'server' ? await access.call<Health>('GET', `${base}/health`) : await getHealth(access.ctx, values.workspace);
    } finally {
      if (access.via === 'direct') await access.close();
    }
    const summary = summarize(health);
    process.stdout.write(
      `${values.json ? JSON.stringify({ ...report, ...summary }, null, 2) : `${printReport(report)}\n${printSummary(values.workspace, summary)}`}\n`,
    );
    return report.ok ? 0 : 1;
  },
};
