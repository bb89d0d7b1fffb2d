// The report: a markdown page (machine, date, command, load average, the side-by-side table, Sluice's own
// figures, the issue's goals against what was measured) and an SVG bar chart drawn by hand.
import type { SystemName, SystemResult } from './results.js';
import { SYSTEM_LABELS } from './results.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  postgres: string;
  os: string;
}

export interface RunInfo {
  date: string;
  command: string;
  machine: Machine;
  loadavgStart: string;
  loadavgEnd: string;
  quick: boolean;
  seconds: number;
  commit: string;
  /** What this run is, e.g. "before issue 10". */
  label: string | null;
}

const int = (n: number | null | undefined) => (n == null || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const ms = (n: number | null | undefined) =>
  n == null || !Number.isFinite(n) ? '—' : n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
const mb = (n: number | null | undefined) => (n == null || !Number.isFinite(n) ? '—' : `${Math.round(n)} MB`);
const ratio = (a: number | undefined, b: number | undefined) => (a == null || b == null || b === 0 ? null : a / b);
const x = (r: number | null) => (r == null ? '—' : `${r.toFixed(r < 0.1 ? 3 : 2)}×`);

function statusText(statuses: Record<string, number>): string {
  const parts = Object.entries(statuses).map(([status, n]) => `${n} × ${status === 'none' ? 'no answer' : status}`);
  return parts.length ? ` (not acknowledged: ${parts.join(', ')})` : '';
}

function find(results: SystemResult[], s: SystemName) {
  return results.find((r) => r.system === s);
}

export function markdown(results: SystemResult[], info: RunInfo, svgName: string): string {
  const ceiling = find(results, 'ceiling')?.ingest.perSecond;
  const naive = find(results, 'naive')?.ingest.perSecond;
  const m = info.machine;
  const lines: string[] = [];
  lines.push(`# Benchmarks${info.label ? `: ${info.label}` : ''}`, '');
  lines.push(
    'Produced by `npm run bench` (bench/run.ts): every system below was started as its own process and loaded one after',
    'the other in one run on the same machine, by the same load generator on the same cores, over loopback. Ratios to the',
    'ceiling are the headline; absolute numbers depend on the machine and on what else ran on it (load average below).',
    '',
  );
  if (info.quick) lines.push('> **Quick smoke run** (`--quick`): small counts, figures are not meaningful.', '');
  lines.push(
    `- Date: ${info.date} (run took ${Math.round(info.seconds)} s)`,
    `- Command: \`${info.command}\` on commit ${info.commit}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb.toFixed(1)} GB RAM, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (local server, for the systems that use one)`,
    `- Load average (1, 5, 15 min) at start: ${info.loadavgStart}; at end: ${info.loadavgEnd} — the machine is shared, see "before" per system below`,
    "- Load: signed `customer.subscription.updated` events of 4.7 KB shaped like Stripe's (the fields of a current subscription, indented as Stripe sends them; each event newer than the last one of its subscription), unique ids, 32 keep-alive connections (closed loop), warm-up excluded",
    '',
    `![Ingest events/s per system, with ratio to the ceiling and p99](${svgName})`,
    '',
    '## Ingest, side by side',
    '',
    '| system | events/s | × ceiling | × naive | p50 | p99 | non-2xx | peak memory under load | load avg before |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const r of results) {
    const i = r.ingest;
    const memory =
      r.system === 'sluice-embedded'
        ? `${mb(i.peak.totalMb)} (Sluice RSS ${mb(i.peak.serverMb)} + db PSS ${mb(i.peak.databaseMb)})`
        : `${mb(i.peak.serverMb)} RSS`;
    lines.push(
      `| ${SYSTEM_LABELS[r.system]} | ${int(i.perSecond)} | ${x(ratio(i.perSecond, ceiling))} | ${x(ratio(i.perSecond, naive))} | ${ms(i.p50)} | ${ms(i.p99)} | ${i.non2xx + i.failed} | ${memory} | ${r.loadavgBefore} |`,
    );
  }
  lines.push(
    '',
    'CPU during the measured phase, in cores busy on average (the machine has ' +
      `${m.cores}; the load generator shares them): ` +
      results
        .map(
          (r) =>
            `${r.system} ${r.ingest.cpu.server.toFixed(2)}${r.ingest.cpu.database > 0 ? ` + its database ${r.ingest.cpu.database.toFixed(2)}` : ''}, load generator ${r.ingest.cpu.client.toFixed(2)}`,
        )
        .join('; ') +
      '.',
  );
  lines.push('', 'Events acknowledged in the measured phase:');
  for (const r of results)
    lines.push(
      `- ${r.system}: ${int(r.ingest.acked)} of ${int(r.ingest.sent)} sent in ${r.ingest.seconds.toFixed(1)} s${statusText(r.ingest.statuses)}${r.ingest.stored != null ? `; ${int(r.ingest.stored)} ${r.system.startsWith('sluice') ? 'events stored in the workspace (warm-up included)' : 'rows in its table afterwards (warm-up included)'}` : ''}`,
    );

  const sluices = results.filter((r) => r.sluice);
  if (sluices.length > 0) {
    lines.push(
      '',
      '## Sluice: start, memory, projection, lag, deliveries',
      '',
      '| database | first start → /readyz | idle memory | peak under load | projection events/s (default workers) | receipt → CRM row p50 / p99 | at offered / accepted | deliveries/s (signed, local receiver) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of sluices) {
      const sl = r.sluice!;
      const l = r.lag!;
      lines.push(
        `| ${SYSTEM_LABELS[r.system]}: ${sl.database} | ${(sl.readyMs / 1000).toFixed(2)} s | ${mb(sl.idle.totalMb)} | ${mb(r.ingest.peak.totalMb)} | ${int(sl.projection.perSecond)}${sl.projection.drained ? '' : ' (backlog not drained)'} | ${l.lowerBound ? '≥ ' : ''}${ms(l.p50)} / ${l.lowerBound ? '≥ ' : ''}${ms(l.p99)} | ${int(l.offeredRate)}/s / ${int(l.acceptedRate)}/s | ${int(sl.deliveries.perSecond)} |`,
      );
    }
    lines.push('', 'Details:');
    for (const r of sluices) {
      const sl = r.sluice!;
      const l = r.lag!;
      lines.push(
        `- ${r.system}: projection drained ${int(sl.projection.backlog)} queued events in ${sl.projection.seconds.toFixed(1)} s (${sl.projection.failed} failed); lag over ${int(l.measured)} events (${l.unprocessed} not yet processed when listed, counted with their age so far${l.unprocessed > 0 ? ', so the lag figures are lower bounds' : ''}), ${l.how}; deliveries ${int(sl.deliveries.delivered)} of ${int(sl.deliveries.expected)} (${sl.deliveries.published} messages × endpoints${sl.deliveries.warmup != null ? `, after a warm-up round of ${int(sl.deliveries.warmup)} not counted` : ''}; ${sl.deliveries.unsigned} without a signature, warm-up included); idle: Sluice RSS ${mb(sl.idle.serverMb)} + database PSS ${mb(sl.idle.databaseMb)} (${sl.idle.databaseProcesses} processes).`,
      );
    }
  }
  const sync = find(results, 'sync-engine');
  if (sync?.lag) {
    lines.push(
      '',
      `- sync-engine: receipt → row p50 ${ms(sync.lag.p50)} / p99 ${ms(sync.lag.p99)} at ${int(sync.lag.offeredRate)}/s offered (${int(sync.lag.acceptedRate)}/s accepted), ${sync.lag.how}.`,
    );
  }

  lines.push('', '## Goals of issue 10', '', '| goal | target | measured | met |', '|---|---|---|---|');
  for (const g of goals(results))
    lines.push(`| ${g.goal} | ${g.target} | ${g.measured} | ${g.met == null ? '—' : g.met ? 'yes' : '**no**'} |`);

  const notes = results.flatMap((r) => r.notes);
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  lines.push(
    '',
    '## How each system runs',
    '',
    '- **ceiling**: `bench/compare/servers/ceiling.ts`, Fastify with the raw body, `stripe.webhooks.constructEvent`, answer 200; stores nothing.',
    '- **naive**: `bench/compare/servers/naive.ts`, Express + `express.raw` + `constructEvent` + one `INSERT … ON CONFLICT DO NOTHING` (pg Pool, 10 connections) into a fresh database.',
    '- **sync-engine**: `bench/compare/servers/sync-engine.ts`, `@supabase/stripe-sync-engine` as its README shows (`runMigrations`, `new StripeSync({ poolConfig, stripeWebhookSecret })`, `processWebhook(rawBody, signature)`) behind Fastify, on a fresh database; no call to api.stripe.com is needed for these events.',
    '- **sluice-postgres**: `node --max-semi-space-size=4 bin/sluice.js start` (compiled dist/, with the node flags of `npm start`) with `DATABASE_URL` to a fresh database on the local server.',
    '- **sluice-embedded**: the same with no `DATABASE_URL` and a fresh `SLUICE_DATA_DIR` (what `npm start` runs); memory is the RSS of Sluice plus the PSS of its database server processes, if any.',
    '',
  );
  return lines.join('\n');
}

interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export function goals(results: SystemResult[]): Goal[] {
  const ceiling = find(results, 'ceiling')?.ingest.perSecond;
  const naive = find(results, 'naive')?.ingest.perSecond;
  const out: Goal[] = [];
  const check = (goal: string, target: string, value: number | null | undefined, fmt: (n: number) => string, ok: (n: number) => boolean) =>
    out.push({
      goal,
      target,
      measured: value == null || !Number.isFinite(value) ? 'not measured' : fmt(value),
      met: value == null || !Number.isFinite(value) ? null : ok(value),
    });
  const pgr = find(results, 'sluice-postgres');
  if (pgr) {
    check(
      'PostgreSQL: ingest vs ceiling',
      '≥ 0.5×',
      ratio(pgr.ingest.perSecond, ceiling),
      (n) => x(n),
      (n) => n >= 0.5,
    );
    check(
      'PostgreSQL: ingest vs naive handler',
      '≥ 4×',
      ratio(pgr.ingest.perSecond, naive),
      (n) => x(n),
      (n) => n >= 4,
    );
    check('PostgreSQL: ingest p99 at 32 connections', '≤ 10 ms', pgr.ingest.p99, ms, (n) => n <= 10);
    check(
      `PostgreSQL: receipt → CRM row p99 at ${int(pgr.lag?.offeredRate)}/s offered`,
      '≤ 200 ms at 1,000/s',
      pgr.lag?.p99,
      (n) => `${pgr.lag?.lowerBound ? '≥ ' : ''}${ms(n)}`,
      (n) => n <= 200 && !pgr.lag?.lowerBound,
    );
    check(
      'PostgreSQL: projection (default workers)',
      '≥ 5,000 events/s with 2 workers',
      pgr.sluice?.projection.perSecond,
      (n) => `${int(n)}/s`,
      (n) => n >= 5000,
    );
    check(
      'PostgreSQL: signed deliveries to a local receiver',
      '≥ 5,000/s',
      pgr.sluice?.deliveries.perSecond,
      (n) => `${int(n)}/s`,
      (n) => n >= 5000,
    );
    check('PostgreSQL: Sluice RSS under load', '≤ 200 MB', pgr.ingest.peak.serverMb, mb, (n) => n <= 200);
  }
  const emb = find(results, 'sluice-embedded');
  if (emb) {
    check(
      'Embedded: ingest vs ceiling',
      '≥ 0.4×',
      ratio(emb.ingest.perSecond, ceiling),
      (n) => x(n),
      (n) => n >= 0.4,
    );
    check('Embedded: ingest p99 at 32 connections', '≤ 15 ms', emb.ingest.p99, ms, (n) => n <= 15);
    check('Embedded: Sluice RSS + its PostgreSQL PSS under load', '≤ 250 MB', emb.ingest.peak.totalMb, mb, (n) => n <= 250);
    out.push({
      goal: 'Embedded: idle memory',
      target: 'reported',
      measured: emb.sluice ? mb(emb.sluice.idle.totalMb) : 'not measured',
      met: null,
    });
    check(
      'Embedded: first start → /readyz',
      '≤ 5 s',
      emb.sluice ? emb.sluice.readyMs / 1000 : null,
      (n) => `${n.toFixed(2)} s`,
      (n) => n <= 5,
    );
    check(
      `Embedded: receipt → CRM row p99 at ${int(emb.lag?.offeredRate)}/s offered`,
      'reported',
      emb.lag?.p99,
      (n) => `${emb.lag?.lowerBound ? '≥ ' : ''}${ms(n)}`,
      () => true,
    );
    check(
      'Embedded: projection (default workers)',
      'reported',
      emb.sluice?.projection.perSecond,
      (n) => `${int(n)}/s`,
      () => true,
    );
    check(
      'Embedded: signed deliveries to a local receiver',
      'reported',
      emb.sluice?.deliveries.perSecond,
      (n) => `${int(n)}/s`,
      () => true,
    );
  }
  for (const g of out) if (g.target === 'reported') g.met = null;
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');

const SHORT: Record<SystemName, string> = {
  ceiling: 'Ceiling (no storage)',
  naive: 'Naive handler',
  'sync-engine': "Stripe's sync engine",
  'sluice-postgres': 'Sluice on PostgreSQL',
  'sluice-embedded': 'Sluice embedded',
};

/** Two panels of horizontal bars: ingest events/s (labelled with the ratio to the ceiling) and p99 (log scale). */
export function svg(results: SystemResult[], subtitle: string): string {
  const ceiling = find(results, 'ceiling')?.ingest.perSecond;
  const rowH = 34;
  const top = 64;
  const labelW = 190;
  const panelW = 340;
  const gap = 40;
  const width = labelW + panelW * 2 + gap + 30;
  const height = top + rowH * results.length + 40;
  const maxRate = Math.max(1, ...results.map((r) => r.ingest.perSecond));
  const maxP99 = Math.max(1, ...results.map((r) => (Number.isFinite(r.ingest.p99) ? r.ingest.p99 : 1)));
  const logScale = (v: number) => Math.log10(1 + v) / Math.log10(1 + maxP99);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">Stripe webhook ingest, 32 connections, 4.6 KB signed events</text>`,
    `<text x="12" y="40" fill="#555">${esc(subtitle)}</text>`,
    `<text x="${labelW}" y="${top - 8}" font-weight="600">events/s acknowledged (× ceiling)</text>`,
    `<text x="${labelW + panelW + gap}" y="${top - 8}" font-weight="600">p99 answer latency (log scale)</text>`,
  );
  results.forEach((r, i) => {
    const y = top + i * rowH;
    const sluice = r.system.startsWith('sluice');
    const w = Math.max(1, (r.ingest.perSecond / maxRate) * (panelW - 110));
    const pw = Number.isFinite(r.ingest.p99) ? Math.max(1, logScale(r.ingest.p99) * (panelW - 80)) : 0;
    const rt = ratio(r.ingest.perSecond, ceiling);
    out.push(
      `<text x="${labelW - 8}" y="${y + 19}" text-anchor="end"${sluice ? ' font-weight="600"' : ''}>${esc(SHORT[r.system])}</text>`,
      `<rect x="${labelW}" y="${y + 6}" width="${w.toFixed(1)}" height="20" fill="${sluice ? '#2f6fdb' : '#9aa5b1'}"/>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 20}">${int(r.ingest.perSecond)}/s${rt == null ? '' : ` (${x(rt)})`}</text>`,
      `<rect x="${labelW + panelW + gap}" y="${y + 6}" width="${pw.toFixed(1)}" height="20" fill="${sluice ? '#e0803a' : '#c9b8a6'}"/>`,
      `<text x="${(labelW + panelW + gap + pw + 6).toFixed(1)}" y="${y + 20}">${ms(r.ingest.p99)}</text>`,
    );
  });
  out.push(
    `<text x="12" y="${height - 12}" fill="#777">Ratios to the ceiling are the headline; absolute numbers depend on the machine.</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
