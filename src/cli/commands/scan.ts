// `sluice scan`: a reconciliation scan in the foreground, with its progress on stderr and a summary at the end.
// Through the running server when it holds the embedded data dir (the server runs the scan; this follows it),
// else directly, with an event worker of its own so the events the scan recovers are processed as it goes.
import { loadConfig } from '../../config.js';
import { startEventWorker } from '../../jobs/event-worker.js';
import type { Ctx } from '../../services/context.js';
import { createScan, getScan, parseScanRequest, runScanToEnd, type ScanProgress } from '../../services/parity/start-scan.js';
import { listWorkspaces } from '../../services/workspaces/list-workspaces.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess, type ServerCall } from '../local.js';

type ScanView = NonNullable<Awaited<ReturnType<typeof getScan>>>;

const BAR_WIDTH = 20;

function progressLine(p: { provider: string | null; phase: string | null; counts: ScanView['counts'] }, tick: number): string {
  // Provider lists carry no totals, so the bar is a moving marker and the numbers are the measure.
  const pos = tick % BAR_WIDTH;
  const bar = `[${' '.repeat(pos)}=${' '.repeat(BAR_WIDTH - pos - 1)}]`;
  const c = p.counts;
  return (
    `${bar} ${p.provider ?? '-'} · ${p.phase ?? '-'} · ${c.apiRequests} requests (${c.rateLimited} × 429) · ${c.eventsListed} events, ` +
    `${c.objectsListed} objects listed · ${c.recoveredEvents} recovered · ${c.repaired} repaired · ${c.tombstones} tombstones`
  );
}

function progressWriter() {
  let tick = 0;
  let lastPhase = '';
  return {
    write(p: { provider: string | null; phase: string | null; counts: ScanView['counts'] }) {
      tick += 1;
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${progressLine(p, tick)}`);
      else if (`${p.provider}:${p.phase}` !== lastPhase) process.stderr.write(`${progressLine(p, tick)}\n`);
      lastPhase = `${p.provider}:${p.phase}`;
    },
    end() {
      if (process.stderr.isTTY) process.stderr.write('\n');
    },
  };
}

function summary(s: ScanView): string {
  const c = s.counts;
  const lines = [
    `Scan ${s.id} of ${s.workspaceId}: ${s.status}${s.scope.dryRun ? ' (dry run: nothing was changed)' : ''}`,
    `  providers: ${((s.scope.providers as string[] | undefined) ?? []).join(', ') || 'none connected'}`,
    `  ${c.apiRequests} API requests (${c.rateLimited} answered 429, ${(c.throttledMs / 1000).toFixed(1)} s throttled), ${c.pages} pages`,
    `  ${c.recoveredEvents} event(s) ${s.scope.dryRun ? 'would be ' : ''}recovered, ${c.repaired} object(s) ${s.scope.dryRun ? 'would be ' : ''}repaired, ${c.tombstones} tombstone(s), ${c.customersFetched} customer(s) fetched`,
  ];
  if (c.unprocessed > 0)
    lines.push(`  ${c.unprocessed} recovered event(s) were still waiting to be processed when the scan compared the CRM`);
  for (const e of s.examples)
    lines.push(`    would ${e.action} ${e.provider} ${e.id}${e.fields ? ` (${(e.fields as string[]).join(', ')})` : ''}`);
  if (s.error) lines.push(`  error: ${s.error}`);
  return lines.join('\n');
}

async function runDirect(ctx: Ctx, workspaceId: string, input: Record<string, unknown>): Promise<ScanView> {
  const { runId } = await createScan(ctx, parseScanRequest(ctx, workspaceId, input, 'manual'));
  const out = progressWriter();
  await runScanToEnd(ctx, runId, (p: ScanProgress) => out.write(p));
  out.end();
  return (await getScan(ctx, workspaceId, runId))!;
}

async function runViaServer(call: ServerCall, workspaceId: string, input: Record<string, unknown>): Promise<ScanView> {
  const base = `/workspaces/${encodeURIComponent(workspaceId)}/scans`;
  const { runId } = await call<{ runId: string }>('POST', base, input);
  const out = progressWriter();
  for (;;) {
    const s = await call<ScanView>('GET', `${base}/${runId}`);
    out.write(s);
    if (s.status === 'succeeded' || s.status === 'failed') {
      out.end();
      return s;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export const scanCommand: Command = {
  summary: "reconcile the CRM with Stripe's and Piano's APIs (recover missed events, repair rows)",
  help: [
    'Usage: sluice scan [--workspace ID] [--provider stripe|piano] [--since 7d|2026-05-01] [--dry-run] [--json]',
    '',
    "Asks each connected provider's API for the events sent since the last scan (at most 30 days) and stores",
    'those that never arrived (flagged recovered), compares subscriptions with the CRM and repairs what it has',
    'wrong, then checks the customers. Runs in the foreground with progress on stderr and a summary at the end.',
    'Without --workspace every workspace is scanned in turn. --dry-run reports what would change and changes',
    'nothing. Exit status 1 when a scan failed (the API key missing or refused, the provider unreachable).',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, {
      workspace: { type: 'string' },
      provider: { type: 'string' },
      since: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (values.provider !== undefined && values.provider !== 'stripe' && values.provider !== 'piano') {
      throw new UsageError('--provider must be stripe or piano');
    }
    const input = {
      ...(values.provider ? { provider: values.provider } : {}),
      ...(values.since ? { since: values.since } : {}),
      dryRun: values['dry-run'] ?? false,
    };
    const access = await openAccess(loadConfig());
    const results: ScanView[] = [];
    try {
      if (access.via === 'server') {
        const ids = values.workspace
          ? [values.workspace]
          : (await access.call<{ data: { id: string }[] }>('GET', '/workspaces?limit=500')).data.map((w) => w.id);
        for (const ws of ids) results.push(await runViaServer(access.call, ws, input));
      } else {
        const ids = values.workspace
          ? [values.workspace]
          : (await listWorkspaces(access.ctx, { kind: 'admin' }, { limit: 500 })).data.map((w) => w.id);
        const worker = input.dryRun ? undefined : startEventWorker(access.ctx);
        try {
          for (const ws of ids) results.push(await runDirect(access.ctx, ws, input));
        } finally {
          await worker?.stop(5000);
        }
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    if (results.length === 0) process.stderr.write('no workspace to scan\n');
    process.stdout.write(`${values.json ? JSON.stringify(results, null, 2) : results.map(summary).join('\n\n')}\n`);
    return results.some((r) => r.status === 'failed') ? 1 : 0;
  },
};
