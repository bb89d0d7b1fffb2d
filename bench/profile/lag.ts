// Receipt → processed lag at a fixed offered rate (default 1,000/s for 10 s) on a fresh database of the local
// PostgreSQL, `sluice start` with every role: prints the lag percentiles overall and per second of receipt, so a
// periodic stall (a statistics refresh, a checkpoint, a long batch) shows where it falls. PROF_RATE, PROF_SECONDS,
// PROF_SQL and SLUICE_* pass through. Loopback only, bounded.
import pg from 'pg';
import { signedEvents, WEBHOOK_SECRET } from '../compare/events.js';
import { LoadClient, pct } from '../compare/load.js';
import { printMetrics, profileDatabase, startSluice } from './common.js';

const rate = Number(process.env.PROF_RATE ?? 1000);
const seconds = Number(process.env.PROF_SECONDS ?? 10);
const db = await profileDatabase('lagprof');
const sluice = await startSluice(db, []);
process.on('exit', () => sluice.child.kill('SIGKILL'));
const ws = (await sluice.api('POST', '/workspaces', { name: 'profile' })).id;
await sluice.api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
if (process.env.PROF_SQL) for (const q of process.env.PROF_SQL.split(';')) await db.admin.query(q.replaceAll('$DB', db.name));
const client = new LoadClient(`${sluice.base}/webhooks/stripe/${ws}`, 32);
await client.closedLoop(signedEvents(1000, 500_000), 10_000); // warm-up, then let it drain
const c = new pg.Client(db.url);
await c.connect();
const pendingCount = async () => Number((await c.query(`SELECT count(*) FROM events WHERE status = 'received'`)).rows[0].count);
for (let i = 0; i < 300 && (await pendingCount()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
const t0 = new Date();
console.log(`phase start ${t0.getTime()}`);
const r = await client.atRate(signedEvents(rate * seconds), rate, seconds);
client.close();
for (let i = 0; i < 300 && (await pendingCount()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
const { rows } = await c.query<{ s: number; lag: number }>(
  `SELECT floor(extract(epoch FROM received_at - $1::timestamptz))::int AS s,
          (extract(epoch FROM processed_at - received_at) * 1000)::float8 AS lag
     FROM events WHERE received_at >= $1 AND processed_at IS NOT NULL ORDER BY received_at`,
  [t0],
);
await c.end();
const all = rows.map((x) => x.lag).sort((a, b) => a - b);
console.log(`accepted ${r.acked} at ${rate}/s offered; answer p50 ${r.p50?.toFixed(1)} ms p99 ${r.p99?.toFixed(1)} ms`);
console.log(
  `lag over ${all.length}: p50 ${pct(all, 50).toFixed(0)} ms, p90 ${pct(all, 90).toFixed(0)}, p99 ${pct(all, 99).toFixed(0)}, max ${all.at(-1)?.toFixed(0)}`,
);
const bySecond = new Map<number, number[]>();
for (const x of rows) bySecond.set(x.s, [...(bySecond.get(x.s) ?? []), x.lag]);
console.log(
  [...bySecond]
    .map(
      ([s, l]) =>
        `${s}s: ${pct(
          l.sort((a, b) => a - b),
          50,
        ).toFixed(0)}/${l.at(-1)!.toFixed(0)}`,
    )
    .join('  '),
);
await printMetrics(sluice.base);
await sluice.stop();
await db.drop();
