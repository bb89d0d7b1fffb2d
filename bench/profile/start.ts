// Start → /readyz of the embedded database, what `npm start` runs: PROF_RUNS (5) times a first start on a fresh
// data dir (initdb included), then a restart on the same data dir after a clean stop. Prints each time and the
// log's steps of the last first start, in ms from the spawn. Loopback only, bounded (each start at most 60 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const runs = Number(process.env.PROF_RUNS ?? 5);
const bin = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../bin/sluice.js');

async function startOnce(dataDir: string): Promise<{ ms: number; steps: string[]; child: ChildProcess }> {
  const t0 = performance.now();
  const wall0 = Date.now();
  const child = spawn(process.execPath, [bin, 'start', '--port', '0'], {
    env: { ...process.env, SLUICE_DATA_DIR: dataDir, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.resume();
  const deadline = t0 + 60_000;
  for (;;) {
    if (performance.now() > deadline) throw new Error(`no /readyz within 60 s; log:\n${out}`);
    if (child.exitCode !== null) throw new Error(`sluice exited with ${child.exitCode}; log:\n${out}`);
    const url = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(out)?.[1];
    if (url) {
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  const steps = out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const { time, msg } = JSON.parse(line) as { time: number; msg: string };
      return `${String(time - wall0).padStart(6)} ms  ${msg}`;
    });
  return { ms, steps, child };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const first: number[] = [];
const again: number[] = [];
let lastSteps: string[] = [];
for (let i = 0; i < runs; i++) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-start-'));
  try {
    const a = await startOnce(dataDir);
    first.push(a.ms);
    lastSteps = a.steps;
    await stop(a.child);
    const b = await startOnce(dataDir);
    again.push(b.ms);
    await stop(b.child);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const list = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
console.log(`first start → /readyz: ${list(first)} s`);
console.log(`restart → /readyz:     ${list(again)} s`);
console.log(`steps of the last first start (from the spawn):\n${lastSteps.map((s) => `  ${s}`).join('\n')}`);
