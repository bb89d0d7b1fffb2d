// Ingest alone (`--role api`, no workers) on a fresh database of the local PostgreSQL: 20,000 signed 4.6 KB events
// from 32 keep-alive connections; prints events/s and the CPU of Sluice, its PostgreSQL backends and the load
// generator per event. PROF_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to the server, PROF_SQL
// runs against the fresh database before the load, PROF_EVENTS sets the count,
// PROF_METRICS prints the metrics of those name prefixes at the end, PROF_PERF=<file> samples the backends with
// perf (see common.ts, perfBackends). Loopback only, bounded.
import pg from 'pg';
import { signedEvents, WEBHOOK_SECRET } from '../compare/events.js';
import { LoadClient } from '../compare/load.js';
import { cpuMeter, cpuMs, perfBackends, printMetrics, profileDatabase, startSluice } from './common.js';

const db = await profileDatabase('ingprof');
const sluice = await startSluice(db, ['--role', process.env.PROF_ROLE ?? 'api']);
if (process.env.PROF_SQL) {
  const c = new pg.Client(db.url);
  await c.connect();
  for (const q of process.env.PROF_SQL.split(';')) await c.query(q);
  await c.end();
}
const ws = (await sluice.api('POST', '/workspaces', { name: 'profile' })).id;
await sluice.api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
const client = new LoadClient(`${sluice.base}/webhooks/stripe/${ws}`, 32);
await client.closedLoop(signedEvents(2000), 10_000); // warm-up
const events = signedEvents(Number(process.env.PROF_EVENTS ?? 20_000), 100_000);

const pid = sluice.child.pid!;
const server0 = cpuMs(pid);
const database = cpuMeter(db.backends());
const own0 = process.cpuUsage();
sluice.phase();
const t0 = performance.now();
const perfDone = perfBackends(db.backends()); // PROF_PERF: call graphs of the backends during the phase
const r = await client.closedLoop(events, 30_000);
const ms = performance.now() - t0;
await perfDone;
sluice.phase();
const server = cpuMs(pid);
const databaseMs = database();
const own = process.cpuUsage(own0);
client.close();

const per = (cpu: number) => `${(cpu / ms).toFixed(2)} core, ${((cpu * 1000) / r.acked).toFixed(0)} µs/event`;
console.log(
  `acked ${r.acked} in ${(ms / 1000).toFixed(1)} s = ${((r.acked / ms) * 1000).toFixed(0)}/s; p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms`,
);
console.log(
  `sluice ${per(server.total - server0.total)} (user ${((server.user - server0.user) / ms).toFixed(2)}, system ${((server.system - server0.system) / ms).toFixed(2)} core)`,
);
console.log(`postgresql backends ${per(databaseMs)}; load generator ${per((own.user + own.system) / 1000)}`);
// What the worker of `PROF_ROLE=all` did meanwhile: the metrics named in PROF_METRICS (comma-separated prefixes).
await printMetrics(sluice.base);
await sluice.stop();
await db.drop();
