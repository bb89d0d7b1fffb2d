import { loadConfig } from '../../config.js';
import { findingView, type CheckRunView, type FindingView } from '../../services/parity/check-run-view.js';
import { requestCheck } from '../../services/parity/request-check.js';
import { checkCustomers } from '../../services/parity/run-checks.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess } from '../local.js';

const HELP = [
  'Usage: sluice check --workspace ID [--customer ID] [--json]',
  '',
  'Checks parity now — does each customer have exactly the access they pay for — and prints the findings',
  '(expected vs actual, and the rule that decided). Incidents are opened for what is found and resolved for',
  'what is no longer found, exactly as the automatic checks do; in repair mode `auto` the CRM is repaired too.',
  '',
  '  --customer  one customer: a Sluice id (cus_…) or a provider id (cus_… of Stripe, a Piano uid)',
  '              without it: every customer with active access, a live subscription or an open incident',
  '  --json      the run as JSON: {runId, checked?, findings}',
  '',
  'Exit status 0 when the check ran (whatever it found), 1 when it could not. See docs/parity.md.',
  'While `sluice start` holds the embedded data dir, this goes through its HTTP API.',
].join('\n');

function printFindings(findings: FindingView[]): string {
  if (findings.length === 0) return 'No findings: every customer checked has the access they pay for.';
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.kind}  ${f.subject}${f.key ? `  ${f.key}` : ''}`);
    lines.push(`    expected: ${f.expected}`);
    lines.push(`    actual:   ${f.actual}`);
    lines.push(`    rule:     ${f.rule}`);
  }
  return lines.join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const checkCommand: Command = {
  summary: 'check that customers have exactly the access they pay for, and print the findings',
  help: HELP,
  async run(args) {
    const { values } = parseOptions(args, { workspace: { type: 'string' }, customer: { type: 'string' }, json: { type: 'boolean' } });
    const ws = values.workspace;
    if (!ws) throw new UsageError('--workspace is required');
    if (values.customer !== undefined && values.customer.trim() === '') throw new UsageError('--customer needs a customer id');
    const access = await openAccess(loadConfig());
    let result: { runId: string; checked?: number; findings: FindingView[]; truncated?: boolean };
    try {
      if (values.customer !== undefined) {
        const body = { customerId: values.customer };
        const answer =
          access.via === 'server'
            ? await access.call<{ runId: string; findings: FindingView[] }>(
                'POST',
                `/workspaces/${encodeURIComponent(ws)}/checks?wait=true`,
                body,
              )
            : await requestCheck(access.ctx, { workspaceId: ws, customerId: values.customer, wait: true });
        result = { runId: answer.runId, checked: 1, findings: 'findings' in answer ? answer.findings : [] };
      } else if (access.via === 'server') {
        const { runId } = await access.call<{ runId: string }>('POST', `/workspaces/${encodeURIComponent(ws)}/checks`, {});
        let run: CheckRunView;
        for (;;) {
          run = await access.call<CheckRunView>('GET', `/workspaces/${encodeURIComponent(ws)}/check-runs/${runId}`);
          if (process.stderr.isTTY) process.stderr.write(`\rchecked ${String(run.counts.checked ?? 0)} customers…`);
          if (run.status === 'succeeded' || run.status === 'failed') break;
          await sleep(500);
        }
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (run.status === 'failed') throw new Error(`check run ${runId} failed: ${run.error ?? 'no reason recorded'}`);
        result = { runId, checked: Number(run.counts.checked ?? 0), findings: run.findings, truncated: run.findingsTruncated };
      } else {
        const s = await checkCustomers(access.ctx, {
          workspaceId: ws,
          customerIds: 'active',
          trigger: 'manual',
          onProgress: (checked) => {
            if (process.stderr.isTTY) process.stderr.write(`\rchecked ${checked} customers…`);
          },
        });
        if (process.stderr.isTTY) process.stderr.write('\n');
        const total = Object.values(s.byKind).reduce((n, v) => n + (v ?? 0), 0);
        result = { runId: s.runId, checked: s.checked, findings: s.findings.map(findingView), truncated: total > s.findings.length };
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const head = `Checked ${result.checked ?? 0} customer(s) in run ${result.runId}: ${result.findings.length}${result.truncated ? '+' : ''} finding(s).`;
      process.stdout.write(
        `${head}\n${printFindings(result.findings)}\n${result.truncated ? 'Only the first findings are listed; the incidents hold them all.\n' : ''}`,
      );
    }
    return 0;
  },
};
