import { loadConfig } from '../../config.js';
import { checkStripeConnection, type DoctorReport } from '../../services/connections/check-stripe-connection.js';
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

export const doctorCommand: Command = {
  summary: "check a workspace's Stripe connection and say what to fix",
  help: [
    'Usage: sluice doctor --workspace ID [--json]',
    '',
    'Checks that a signing secret is stored, that recent deliveries verified, that the API key is accepted,',
    'and that a webhook endpoint in Stripe points at this workspace, is enabled and is subscribed to every',
    'event type the CRM handles. Exits 1 when a check fails.',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, { workspace: { type: 'string' }, json: { type: 'boolean' } });
    if (!values.workspace) throw new UsageError('--workspace is required');
    const access = await openAccess(loadConfig());
    let report: DoctorReport;
    try {
      report =
        access.via === 'server'
          ? await access.call<DoctorReport>('GET', `/workspaces/${encodeURIComponent(values.workspace)}/connections/stripe/doctor`)
          : await checkStripeConnection(access.ctx, values.workspace);
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : printReport(report)}\n`);
    return report.ok ? 0 : 1;
  },
};
