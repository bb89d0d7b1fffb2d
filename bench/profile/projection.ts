// Projection alone: PROF_EVENTS (6,000) events stored by a `--role api` process, then drained by one `--role worker`
// process; prints events/s and the CPU per event of the worker and of PostgreSQL. PROF_LOG=1 logs every statement
// with its duration into the server log (for a breakdown by statement); PROF_KEEP=1 stops after storing and
// keeps the database (drainprof) to EXPLAIN the claims against; PROF_SQL runs against the fresh database before the
// events are stored; PROF_PERF=<file> samples the backends with perf during the drain (common.ts, perfBackends).
// At the end, the largest tables' size on disk per event. Loopback only, bounded.
import pg from 'pg';
import { signedEvents, WEBHOOK_SECRET } from '../compare/events.js';
import { LoadClient } from '../compare/load.js';
import { peakRssMb } from '../lib.js';
import { cpuMeter, cpuMs, perfBackends, profileDatabase, startSluice } from './common.js';

const db = await profileDatabase('drainprof');
const api = await startSluice(db, ['--role', 'api']);
if (process.env.PROF_SQL) {
  const c = new pg.Client(db.url);
  await c.connect();
  for (const q of process.env.PROF_SQL.split(';')) await c.query(q);
  await c.end();
}
const ws = (await api.api('POST', '/workspaces', { name: 'profile' })).id;
await api.api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
const n = Number(process.env.PROF_EVENTS ?? 6000);
const client = new LoadClient(`${api.base}/webhooks/stripe/${ws}`, 32);
const stored = await client.closedLoop(signedEvents(n), 60_000);
client.close();
console.log(`stored ${stored.acked}`);
await api.stop();
if (process.env.PROF_KEEP) {
  await db.admin.end();
  process.exit(0);
}
// Applies to sessions opened from now on: the worker's.
if (process.env.PROF_LOG) await db.admin.query(`ALTER DATABASE ${db.name} SET log_min_duration_statement = 0`);

const q = new pg.Client(db.url);
await q.connect();
const waiting = async () => Number((await q.query(`SELECT count(*) AS c FROM events WHERE status = 'received'`)).rows[0].c);
const t0 = performance.now();
const worker = await startSluice(db, ['--role', 'worker']);
let left = n;
let tFirst = 0;
let database: (() => number) | undefined;
let workerAtFirst = { user: 0, system: 0, total: 0 };
// WAL written by the whole server during the drain (the throw-away database is the only one busy).
const walPosition = async () => (await q.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
let wal0 = '0/0';
let perfDone: Promise<void> = Promise.resolve();
while (left > 0 && performance.now() - t0 < 120_000) {
  await new Promise((r) => setTimeout(r, 250));
  left = await waiting();
  if (!tFirst && left < n) {
    tFirst = performance.now();
    database = cpuMeter(db.backends());
    workerAtFirst = cpuMs(worker.child.pid!);
    wal0 = await walPosition();
    worker.phase();
    perfDone = perfBackends(db.backends()); // PROF_PERF: call graphs of the backends during the drain
  }
}
await perfDone;
worker.phase();
const ms = performance.now() - tFirst;
const walBytes = Number((await q.query<{ b: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS b', [wal0])).rows[0]!.b);
const done = n - left;
const databaseMs = database?.() ?? 0;
console.log(
  `projected ${done} in ${(ms / 1000).toFixed(1)} s = ${((done / ms) * 1000).toFixed(0)}/s (first one after ${((tFirst - t0) / 1000).toFixed(1)} s)`,
);
console.log(`WAL ${(walBytes / done / 1024).toFixed(1)} KB/event`);
const workerCpu = cpuMs(worker.child.pid!);
const workerMs = workerCpu.total - workerAtFirst.total;
console.log(
  `worker ${(workerMs / ms).toFixed(2)} core, ${((workerMs * 1000) / done).toFixed(0)} µs/event (user ${((workerCpu.user - workerAtFirst.user) / ms).toFixed(2)}, system ${((workerCpu.system - workerAtFirst.system) / ms).toFixed(2)} core), peak RSS ${peakRssMb(worker.child.pid!).toFixed(0)} MB; postgresql ${(databaseMs / ms).toFixed(2)} core, ${((databaseMs * 1000) / done).toFixed(0)} µs/event`,
);
await worker.stop();
// What the drain left on disk, per event, table by table (with indexes and TOAST).
const sizes = await q.query<{ t: string; b: string }>(
  `SELECT c.relname AS t, pg_total_relation_size(c.oid)::text AS b FROM pg_class c
   WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 5`,
);
console.log(`on disk per event: ${sizes.rows.map((r) => `${r.t} ${(Number(r.b) / n / 1024).toFixed(2)} KB`).join(', ')}`);
await q.end();
await db.drop();
