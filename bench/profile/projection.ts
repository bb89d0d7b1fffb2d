// Projection alone: PROF_EVENTS (6,000) events stored by a `--role api` process, then drained by one `--role worker`
// process; prints events/s and the CPU per event of the worker and of PostgreSQL. PROF_LOG=1 logs every statement
// with its duration into the server log (for a breakdown by statement); PROF_KEEP=1 stops after storing and
// keeps the database (drainprof) to EXPLAIN the claims against. Loopback only, bounded.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { LoadClient } from '../compare/load.js';
import { signedEvents, WEBHOOK_SECRET } from '../compare/events.js';
const ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client(ADMIN);
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS drainprof WITH (FORCE)');
await admin.query('CREATE DATABASE drainprof');
const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-profile-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const url = 'postgres://postgres@127.0.0.1:5432/drainprof';
const port = 18000 + Math.floor(Math.random() * 1000);
const env = {
  ...process.env,
  DATABASE_URL: url,
  SLUICE_DATA_DIR: dataDir,
  SLUICE_ADMIN_TOKEN: 'tok_0123456789abcdef0123',
  LOG_LEVEL: 'warn',
};
const api1 = spawn(process.execPath, ['bin/sluice.js', 'start', '--role', 'api', '--port', String(port)], {
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    /* not listening yet */
  }
  await new Promise((r) => setTimeout(r, 100));
}
const api = async (m: string, p: string, b?: unknown) =>
  (
    await fetch(`${base}/api/v1${p}`, {
      method: m,
      headers: { authorization: 'Bearer tok_0123456789abcdef0123', 'content-type': 'application/json' },
      body: b ? JSON.stringify(b) : undefined,
    })
  ).json() as any;
const ws = (await api('POST', '/workspaces', { name: 'p' })).id;
await api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
const N = Number(process.env.PROF_EVENTS ?? 6000);
const client = new LoadClient(`${base}/webhooks/stripe/${ws}`, 32);
const r = await client.closedLoop(signedEvents(N), 60_000);
client.close();
console.log(`stored ${r.acked}`);
const db = new pg.Client(url);
await db.connect();
if (process.env.PROF_KEEP) {
  api1.kill('SIGTERM');
  await db.end();
  await admin.end();
  process.exit(0);
}
if (process.env.PROF_LOG) await admin.query('ALTER DATABASE drainprof SET log_min_duration_statement = 0');
const nodeArgs = (process.env.PROF_NODE_ARGS ?? '').split(' ').filter(Boolean);
const t0 = performance.now();
const w = spawn(process.execPath, [...nodeArgs, 'bin/sluice.js', 'start', '--role', 'worker'], {
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const pids = () => execFileSync('pgrep', ['-f', 'postgres: .*drainprof']).toString().trim().split('\n').map(Number);
const cpu = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
};
let left = N;
let tFirst = 0;
let c0: number[] = [];
let ps: number[] = [];
while (left > 0 && performance.now() - t0 < 120_000) {
  await new Promise((r) => setTimeout(r, 250));
  left = Number((await db.query(`select count(*) c from events where status='received'`)).rows[0].c);
  if (!tFirst && left < N) {
    tFirst = performance.now();
    ps = pids();
    c0 = ps.map(cpu);
  }
}
const ms = performance.now() - tFirst;
const pgC = ps.map(cpu).reduce((a, b, i) => a + b - c0[i]!, 0);
const stat = (await db.query(`select status, count(*) from events group by 1`)).rows;
console.log(
  `drained ${N - left} in ${(ms / 1000).toFixed(1)} s = ${(((N - left) / ms) * 1000).toFixed(0)}/s (first processed after ${((tFirst - t0) / 1000).toFixed(1)} s)`,
  JSON.stringify(stat),
);
console.log(
  `worker cpu ${(cpu(w.pid!) / ms).toFixed(2)} core (incl. start); pg ${(pgC / ms).toFixed(2)} core, ${((pgC * 1000) / (N - left)).toFixed(0)} us/ev`,
);
w.kill('SIGTERM');
api1.kill('SIGTERM');
await new Promise((r) => w.on('exit', r));
await db.end();
await admin.query('DROP DATABASE IF EXISTS drainprof WITH (FORCE)');
await admin.end();
