// Deliveries alone: PROF_MESSAGES (2,500) custom events published to 4 paused endpoints on a local keep-alive
// receiver, then the endpoints resumed: deliveries/s first to last, CPU per delivery of Sluice and PostgreSQL.
// PROF_LOG=1 logs every statement (ALTER SYSTEM, reset at the end); PROF_KEEP=1 stops before resuming and keeps
// the database (delivprof). Loopback only, bounded.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import pg from 'pg';
const ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client(ADMIN);
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS delivprof WITH (FORCE)');
await admin.query('CREATE DATABASE delivprof');
const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-profile-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const url = 'postgres://postgres@127.0.0.1:5432/delivprof';
const port = 18000 + Math.floor(Math.random() * 1000);
const env = {
  ...process.env,
  DATABASE_URL: url,
  SLUICE_DATA_DIR: dataDir,
  SLUICE_ADMIN_TOKEN: 'tok_0123456789abcdef0123',
  LOG_LEVEL: 'warn',
  SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8',
};
const nodeArgs = (process.env.PROF_NODE_ARGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeArgs, 'bin/sluice.js', 'start', '--port', String(port)], {
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
const arrivals: number[] = [];
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    arrivals.push(performance.now());
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const rport = (server.address() as any).port;
const ws = (await api('POST', '/workspaces', { name: 'o' })).id;
const E = 4,
  M = Number(process.env.PROF_MESSAGES ?? 2500);
const eps: string[] = [];
for (let e = 0; e < E; e++) {
  const ep = await api('POST', `/workspaces/${ws}/endpoints`, { url: `http://127.0.0.1:${rport}/e${e}` });
  await api('PATCH', `/workspaces/${ws}/endpoints/${ep.id}`, { state: 'paused' });
  eps.push(ep.id);
}
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < M) {
      next++;
      await api('POST', `/workspaces/${ws}/events`, { type: 'bench.tick', data: { n: next } });
    }
  }),
);
if (process.env.PROF_KEEP) {
  child.kill('SIGTERM');
  server.close();
  await admin.end();
  process.exit(0);
}
if (process.env.PROF_LOG) {
  await admin.query('ALTER SYSTEM SET log_min_duration_statement = 0');
  await admin.query('SELECT pg_reload_conf()');
}
const cpu = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
};
const pids = execFileSync('pgrep', ['-f', 'postgres: .*delivprof']).toString().trim().split('\n').map(Number);
const c0 = pids.map(cpu),
  s0 = cpu(child.pid!),
  me0 = process.cpuUsage();
const t0 = performance.now();
for (const id of eps) await api('PATCH', `/workspaces/${ws}/endpoints/${id}`, { state: 'enabled' });
while (arrivals.length < M * E && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
const ms = arrivals.length > 1 ? arrivals[arrivals.length - 1]! - arrivals[0]! : 1;
const wall = performance.now() - t0;
const pgC = pids.map(cpu).reduce((a, b, i) => a + b - c0[i]!, 0);
const sC = cpu(child.pid!) - s0;
const me = process.cpuUsage(me0);
console.log(`delivered ${arrivals.length}/${M * E}, ${((arrivals.length / ms) * 1000).toFixed(0)}/s first→last`);
console.log(
  `sluice ${(sC / wall).toFixed(2)} core ${((sC * 1000) / arrivals.length).toFixed(0)} us/d; pg ${(pgC / wall).toFixed(2)} core ${((pgC * 1000) / arrivals.length).toFixed(0)} us/d; receiver ${((me.user + me.system) / 1000 / wall).toFixed(2)} core`,
);
if (process.env.PROF_LOG) {
  await admin.query('ALTER SYSTEM RESET log_min_duration_statement');
  await admin.query('SELECT pg_reload_conf()');
}
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
server.close();
await admin.query('DROP DATABASE IF EXISTS delivprof WITH (FORCE)');
await admin.end();
