// Ingest alone (`--role api`, no workers) on a fresh database of the local PostgreSQL: 20,000 signed 4.6 KB events
// from 32 keep-alive connections; prints events/s and the CPU of Sluice, its PostgreSQL backends and the load
// generator per event. PROF_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to the server, PROF_SQL
// runs against the fresh database before the load, PROF_EVENTS sets the count. Loopback only, bounded.
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
await admin.query('DROP DATABASE IF EXISTS ingprof WITH (FORCE)');
await admin.query('CREATE DATABASE ingprof');
const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-profile-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const url = 'postgres://postgres@127.0.0.1:5432/ingprof';
const port = 18000 + Math.floor(Math.random() * 1000);
const nodeArgs = (process.env.PROF_NODE_ARGS ?? '').split(' ').filter(Boolean);
const role = process.env.PROF_ROLE ?? 'api';
const child = spawn(process.execPath, [...nodeArgs, 'bin/sluice.js', 'start', '--role', role, '--port', String(port)], {
  env: { ...process.env, DATABASE_URL: url, SLUICE_DATA_DIR: dataDir, SLUICE_ADMIN_TOKEN: 'tok_0123456789abcdef0123', LOG_LEVEL: 'warn' },
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
if (process.env.PROF_SQL) {
  const c = new pg.Client(url);
  await c.connect();
  for (const q of process.env.PROF_SQL.split(';')) await c.query(q);
  await c.end();
}
const ws = (await api('POST', '/workspaces', { name: 'p' })).id;
await api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
const client = new LoadClient(`${base}/webhooks/stripe/${ws}`, 32);
await client.closedLoop(signedEvents(2000), 10_000);
const N = Number(process.env.PROF_EVENTS ?? 20000);
const evs = signedEvents(N, 100000);
const pgPids = () => execFileSync('pgrep', ['-f', 'postgres: .*ingprof']).toString().trim().split('\n').map(Number);
const ustime = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
};
const cpu = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
};
const pids = pgPids();
const walpids = execFileSync('pgrep', ['-f', 'postgres: .*(walwriter|checkpointer|background writer)'])
  .toString()
  .trim()
  .split('\n')
  .map(Number);
const s0 = cpu(child.pid!),
  p0 = pids.map(cpu),
  w0 = walpids.map(cpu),
  me0 = process.cpuUsage();
const us0 = ustime(child.pid!);
const t0 = performance.now();
const r = await client.closedLoop(evs, 30_000);
const ms = performance.now() - t0;
const sC = cpu(child.pid!) - s0,
  pC = pids.map(cpu).reduce((a, b, i) => a + b - p0[i]!, 0),
  wC = walpids.map(cpu).reduce((a, b, i) => a + b - w0[i]!, 0);
const me = process.cpuUsage(me0);
console.log(
  `acked ${r.acked} in ${(ms / 1000).toFixed(1)} s = ${((r.acked / ms) * 1000).toFixed(0)}/s; p50 ${r.p50?.toFixed?.(1) ?? JSON.stringify(r).slice(0, 200)}`,
);
const per = (x: number) => `${(x / ms).toFixed(2)} core, ${((x * 1000) / r.acked).toFixed(0)} us/ev`;
console.log(`sluice ${per(sC)}; pg backends ${per(pC)}; pg aux ${per(wC)}; loadgen ${per((me.user + me.system) / 1000)}`);
const us1 = ustime(child.pid!);
console.log(`sluice user ${((us1[0]! - us0[0]!) / ms).toFixed(2)} core, system ${((us1[1]! - us0[1]!) / ms).toFixed(2)} core`);
client.close();
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
await admin.query('DROP DATABASE IF EXISTS ingprof WITH (FORCE)');
await admin.end();
