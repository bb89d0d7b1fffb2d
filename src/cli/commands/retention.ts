import { loadConfig } from '../../config.js';
import { runRetention, type RetentionReport } from '../../services/retention/run-retention.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

function printReport(r: RetentionReport): string {
  if (!r.ran) return 'Another retention run is in progress (it holds the lease); nothing was done.';
  const lines = [`Retention run finished in ${r.seconds.toFixed(1)} s${r.stopped ? ' (stopped early)' : ''}`];
  for (const w of r.workspaces) {
    lines.push(
      `  ${w.workspaceId}  ${String(w.retentionDays).padStart(5)} days  ${w.eventsDeleted} events deleted, ` +
        `${w.rawBodiesPruned} raw bodies pruned, ${w.attemptsDeleted} attempts deleted; ` +
        `workflow runs kept ${w.workflowRunRetentionDays} days: ${w.workflowRunsDeleted} deleted; ` +
        `${w.checkRunsDeleted} check runs deleted`,
    );
  }
  return lines.join('\n');
}

export const retentionCommand: Command = {
  summary: 'prune history past each workspace’s retention now',
  help: [
    'Usage: sluice retention run [--workspace ID] [--json]',
    '',
    'Deletes processed and ignored events older than the workspace’s retention (its retentionDays, else',
    'SLUICE_RETENTION_DAYS, default 90), delivery attempts of finished deliveries older than it, and the raw',
    'bodies of the old events that are kept (failed ones, the source of a CRM row’s current version), and finished',
    'parity check runs older than it (scan runs are kept). Events',
    'still waiting, and events a pending delivery will send, are kept whole. Finished workflow runs (succeeded,',
    'failed, filtered) older than the workspace’s workflowRunRetentionDays (else SLUICE_WORKFLOW_RUN_RETENTION_DAYS,',
    'default 30) are deleted with their steps; running and waiting runs are kept. Works in short batches; worker',
    'processes also run it every SLUICE_RETENTION_INTERVAL_SECONDS. See docs/operations.md.',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseOptions(args, { workspace: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (positionals[0] !== 'run' || positionals.length !== 1) throw new UsageError('usage: sluice retention run [--workspace ID] [--json]');
    const access = await openAccess(loadConfig());
    let report: RetentionReport;
    try {
      if (access.via === 'server') {
        process.stderr.write('running retention through the running server…\n');
        report = await access.call<RetentionReport>('POST', '/retention/run', values.workspace ? { workspaceId: values.workspace } : {});
      } else {
        report = await runRetention(access.ctx, { workspaceId: values.workspace });
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : printReport(report)}\n`);
    return report.ran ? 0 : 1;
  },
};
