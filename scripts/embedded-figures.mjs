#!/usr/bin/env node
// Figures of the embedded PostgreSQL mode on this machine, against the compiled `sluice start` (npm run build):
// first start to /readyz on a fresh data dir (initdb included), restart to /readyz, and idle memory: RSS of
// Sluice plus PSS of every process of its PostgreSQL server (/proc/<pid>/smaps_rollup; Linux only).
//   npm run build && node scripts/embedded-figures.mjs [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const BIN = path.resolve('bin/sluice.js');

async function startAndTime(dataDir) {
  const t0 = performance.now();
  const env = {
    ...process.env,
    SLUICE_DATA_DIR: dataDir,
    DATABASE_URL: '',
    SLUICE_ADMIN_TOKEN: 'figures_admin_token_0123456789',
    LOG_LEVEL: 'warn',
  };
  const proc = spawn(process.execPath, [BIN, 'start', '--port', '0', '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  // The port is picked by the OS: read it from the lock file the server writes once it listens.
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sluice exited:\n${out}`);
    let url;
    try {
      url = JSON.parse(readFileSync(path.join(dataDir, 'sluice.lock'), 'utf8')).url;
    } catch {
      url = undefined;
    }
    if (url) {
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return { proc, ms: performance.now() - t0 };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const kb = (file, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'))?.[1] ?? 0);

function postgresPids(clusterDir) {
  const master = Number(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [master];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
      if (ppid === master) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

async function stop(proc) {
  const exited = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

const first = [];
const restart = [];
let memory;
for (let i = 0; i < runs; i++) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-figures-'));
  try {
    const a = await startAndTime(dataDir);
    first.push(a.ms);
    await stop(a.proc);
    const b = await startAndTime(dataDir);
    restart.push(b.ms);
    if (i === runs - 1) {
      await new Promise((r) => setTimeout(r, 3000)); // idle: workers polling, nothing else
      const pids = postgresPids(path.join(dataDir, 'postgres'));
      const pss = pids.reduce((sum, pid) => sum + kb(`/proc/${pid}/smaps_rollup`, 'Pss'), 0);
      const rss = kb(`/proc/${b.proc.pid}/status`, 'VmRSS');
      memory = { sluiceRssMb: rss / 1024, postgresPssMb: pss / 1024, postgresProcesses: pids.length };
    }
    await stop(b.proc);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const fmt = (xs) => `median ${Math.round(median(xs))} ms (runs: ${xs.map((x) => Math.round(x)).join(', ')})`;
console.log(`first start to /readyz (fresh data dir, initdb included): ${fmt(first)}`);
console.log(`restart to /readyz: ${fmt(restart)}`);
console.log(
  `idle memory: Sluice RSS ${memory.sluiceRssMb.toFixed(1)} MB + PostgreSQL PSS ${memory.postgresPssMb.toFixed(1)} MB ` +
    `(${memory.postgresProcesses} processes) = ${(memory.sluiceRssMb + memory.postgresPssMb).toFixed(1)} MB`,
);
