// What the profile scripts share: a throw-away database on the local PostgreSQL, Sluice processes started on it
// from dist/, its admin API, and CPU time read from /proc (Linux only, like the rest of bench/).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { npmStartNodeFlags } from '../compare/children.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = 'profile_admin_token_0123456789';

/** A fresh database `name` (dropped and created again) and a data dir for the master key, both removed by drop(). */
export async function profileDatabase(name: string) {
  const admin = new pg.Client(ADMIN_URL);
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-profile-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    dataDir,
    admin,
    /** PIDs of the server processes serving this database right now. */
    backends: () =>
      execFileSync('pgrep', ['-f', `postgres: .*${name}`])
        .toString()
        .trim()
        .split('\n')
        .map(Number),
    /** Drops the database, unless PROF_KEEP=1 keeps it for a look afterwards (psql …/<name>). */
    async drop() {
      if (process.env.PROF_KEEP) {
        console.log(`kept database ${name}`);
        return admin.end();
      }
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
export type ProfileDatabase = Awaited<ReturnType<typeof profileDatabase>>;

/** `sluice start` from dist/ on the database with `args`; node runs with npm start's flags and PROF_NODE_ARGS (PROF_PHASE_CPU=1: see phase()). Resolves once /readyz answers
 *  (or with no port: once spawned, for `--role worker`). */
export async function startSluice(db: ProfileDatabase, args: string[], env: Record<string, string> = {}) {
  const port = args.includes('--role') && args[args.indexOf('--role') + 1] === 'worker' ? undefined : await freePort();
  const nodeArgs = [...npmStartNodeFlags(), ...(process.env.PROF_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (process.env.PROF_PHASE_CPU) nodeArgs.push('--import', './bench/profile/phase-cpu-profile.mjs');
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, 'bin/sluice.js', 'start', ...args, ...(port ? ['--port', String(port)] : [])],
    {
      env: { ...process.env, DATABASE_URL: db.url, SLUICE_DATA_DIR: db.dataDir, SLUICE_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${port}`;
  let strace: ChildProcess | undefined;
  if (port) {
    for (let i = 0; ; i++) {
      if (i === 300) throw new Error('sluice did not answer /readyz within 30 s');
      if (
        await fetch(`${base}/readyz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    child,
    base,
    async api(method: string, p: string, body?: unknown): Promise<any> {
      const res = await fetch(`${base}/api/v1${p}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return res.json();
    },
    /** With PROF_PHASE_CPU=1: the first call starts a CPU profile of the measured phase, the second writes it.
     *  With PROF_STRACE=1: the first call attaches `strace -c` to Sluice's threads, the second detaches it and
     *  prints the system calls made meanwhile (what a syscall costs on a VM is where the idle time goes). */
    phase() {
      if (process.env.PROF_PHASE_CPU) child.kill('SIGUSR2');
      if (process.env.PROF_STRACE) {
        if (!strace) strace = spawn('strace', ['-c', '-f', '-p', String(child.pid)], { stdio: ['ignore', 'ignore', 'inherit'] });
        else strace.kill('SIGINT');
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** User and system CPU milliseconds a process has used (0 for one that is gone). */
export function cpuMs(pid: number): { user: number; system: number; total: number } {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const user = Number(f[11]) * 10;
    const system = Number(f[12]) * 10;
    return { user, system, total: user + system };
  } catch {
    return { user: 0, system: 0, total: 0 };
  }
}

/** A meter of the CPU milliseconds `pids` use from now on: call it to read. */
export function cpuMeter(pids: number[]) {
  const at0 = pids.map((p) => cpuMs(p).total);
  return () => pids.reduce((sum, p, i) => sum + cpuMs(p).total - at0[i]!, 0);
}

/** With PROF_METRICS (comma-separated name prefixes): prints those lines of the server's /metrics. */
export async function printMetrics(base: string): Promise<void> {
  if (!process.env.PROF_METRICS) return;
  const text = await (await fetch(`${base}/metrics`)).text();
  const wanted = process.env.PROF_METRICS.split(',');
  for (const line of text.split('\n')) if (wanted.some((w) => line.startsWith(w))) console.log(line);
}

/**
 * PROF_PERF=<file>: samples `pids` (the database's backends) with Linux perf and DWARF call graphs for
 * PROF_PERF_SECONDS (3) from now, so that PostgreSQL's time can be attributed to what calls it (jsonb_in, index
 * inserts, TOAST, commit…) even in a server built without frame pointers. Read it with
 * `perf report -i <file> --children --sort sym -g none`. Resolves once perf has written the file; a no-op without
 * PROF_PERF. Needs `perf` (Debian: linux-perf) and permission to trace those processes (root, or
 * kernel.perf_event_paranoid ≤ 1 for the server's user).
 */
export function perfBackends(pids: number[]): Promise<void> {
  const file = process.env.PROF_PERF;
  if (!file) return Promise.resolve();
  const seconds = String(Number(process.env.PROF_PERF_SECONDS ?? 3));
  const perf = spawn('perf', ['record', '--call-graph', 'dwarf,16384', '-p', pids.join(','), '-o', file, '--', 'sleep', seconds], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => {
    perf.on('error', (err) => {
      console.error(`PROF_PERF: could not run perf (${err.message})`);
      resolve();
    });
    perf.on('exit', () => {
      console.log(`perf samples of the database's backends written to ${file}`);
      resolve();
    });
  });
}
