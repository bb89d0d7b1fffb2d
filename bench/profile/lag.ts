// Receipt → processed lag at a fixed offered rate (default 1,000/s for 10 s) on a fresh database of the local
// PostgreSQL, `sluice start` with every role: prints the lag percentiles overall and per second of receipt, so a
// periodic stall (a statistics refresh, a checkpoint, a long batch) shows where it falls, and the CPU each process
// used meanwhile. PROF_RATE, PROF_SECONDS, PROF_ROLE, PROF_SQL, PROF_WARMUP, PROF_FRESH_WORKSPACE, PROF_SPIKES and
// SLUICE_* pass through. Loopback only, bounded.
import pg from 'pg';
import { signedEvents, WEBHOOK_SECRET } from '../compare/events.js';
import { LoadClient, pct } from '../compare/load.js';
import { cpuMeter, cpuMs, printMetrics, profileDatabase, startSluice } from './common.js';

const rate = Number(process.env.PROF_RATE ?? 1000);
const seconds = Number(process.env.PROF_SECONDS ?? 10);
const db = await profileDatabase('lagprof');
// PROF_ROLE=api: no workers, only the answers at that rate (nothing is processed, so there is no lag to report).
const role = process.env.PROF_ROLE ?? 'all';
const sluice = await startSluice(db, ['--role', role]);
process.on('exit', () => sluice.child.kill('SIGKILL'));
const ws = (await sluice.api('POST', '/workspaces', { name: 'profile' })).id;
await sluice.api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
if (process.env.PROF_SQL) for (const q of process.env.PROF_SQL.split(';')) await db.admin.query(q.replaceAll('$DB', db.name));
const client = new LoadClient(`${sluice.base}/webhooks/stripe/${ws}`, 32);
// Warm-up (PROF_WARMUP events, default 1,000), then let it drain.
await client.closedLoop(signedEvents(Number(process.env.PROF_WARMUP ?? 1000), 500_000), 10_000);
const c = new pg.Client(db.url);
await c.connect();
const pendingCount = async () => Number((await c.query(`SELECT count(*) FROM events WHERE status = 'received'`)).rows[0].count);
const drain = async () => {
  for (let i = 0; i < 300 && role !== 'api' && (await pendingCount()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
};
await drain();
// PROF_FRESH_WORKSPACE=1: the phase goes to a workspace of its own, as in `npm run bench` (whose lag phase follows
// the ingest and drain phases on a new workspace: its first second creates every customer and subscription).
let phaseClient = client;
if (process.env.PROF_FRESH_WORKSPACE) {
  const fresh = (await sluice.api('POST', '/workspaces', { name: 'profile lag' })).id;
  await sluice.api('PUT', `/workspaces/${fresh}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
  client.close();
  phaseClient = new LoadClient(`${sluice.base}/webhooks/stripe/${fresh}`, 32);
}
const t0 = new Date();
console.log(`phase start ${t0.getTime()}`);
const events = signedEvents(rate * seconds);
// CPU of the phase: the Sluice process, its PostgreSQL backends (those open now), the load generator (this process).
const sluice0 = cpuMs(sluice.child.pid!);
const databaseCpu = cpuMeter(db.backends());
const loadCpu = cpuMeter([process.pid]);
const p0 = performance.now();
sluice.phase();
const r = await phaseClient.atRate(events, rate, seconds);
sluice.phase();
const phaseMs = performance.now() - p0;
const sluice1 = cpuMs(sluice.child.pid!);
const cores = (ms: number) => (ms / phaseMs).toFixed(2);
const cpu =
  `CPU during the phase, cores: sluice ${cores(sluice1.total - sluice0.total)} (user ${cores(sluice1.user - sluice0.user)}, ` +
  `system ${cores(sluice1.system - sluice0.system)}), postgresql backends ${cores(databaseCpu())}, load generator ${cores(loadCpu())}`;
phaseClient.close();
await drain();
const { rows } = await c.query<{ s: number; lag: number }>(
  `SELECT floor(extract(epoch FROM received_at - $1::timestamptz))::int AS s,
          (extract(epoch FROM processed_at - received_at) * 1000)::float8 AS lag
     FROM events WHERE received_at >= $1 AND processed_at IS NOT NULL ORDER BY received_at`,
  [t0],
);
await c.end();
const all = rows.map((x) => x.lag).sort((a, b) => a - b);
console.log(`accepted ${r.acked} at ${rate}/s offered; answer p50 ${r.p50?.toFixed(1)} ms p99 ${r.p99?.toFixed(1)} ms`);
console.log(cpu);
if (role !== 'api') {
  console.log(
    `lag over ${all.length}: p50 ${pct(all, 50).toFixed(0)} ms, p90 ${pct(all, 90).toFixed(0)}, p99 ${pct(all, 99).toFixed(0)}, max ${all.at(-1)?.toFixed(0)}`,
  );
  const bySecond = new Map<number, number[]>();
  for (const x of rows) bySecond.set(x.s, [...(bySecond.get(x.s) ?? []), x.lag]);
  const median = (l: number[]) =>
    pct(
      l.sort((a, b) => a - b),
      50,
    ).toFixed(0);
  console.log([...bySecond].map(([s, l]) => `${s}s: ${median(l)}/${l.at(-1)!.toFixed(0)}`).join('  '));
}
if (process.env.PROF_SPIKES) {
  // The 200 slowest events by the millisecond of the phase they were processed in: a cluster is one batch that
  // waited (a stall of the workers), scattered ones are not.
  const c2 = new pg.Client(db.url);
  await c2.connect();
  const { rows: slow } = await c2.query<{ p: number }>(
    `SELECT (extract(epoch FROM processed_at - $1::timestamptz) * 1000)::int AS p FROM events
      WHERE received_at >= $1 AND processed_at IS NOT NULL ORDER BY processed_at - received_at DESC LIMIT 200`,
    [t0],
  );
  await c2.end();
  const byMs = new Map<number, number>();
  for (const x of slow) byMs.set(x.p, (byMs.get(x.p) ?? 0) + 1);
  const clusters = [...byMs].sort((a, b) => a[0] - b[0]).map(([p, n]) => `${p}:${n}`);
  console.log(`slowest 200, processed at ms of the phase (count): ${clusters.join(' ')}`);
}
await printMetrics(sluice.base);
await sluice.stop();
await db.drop();
