// The side-by-side benchmark harness (bench/run.ts) as a user runs it: a quick run writes a page and a chart with
// real figures, leaves no server behind, and Ctrl-C stops the servers and drops the databases it made. No timing
// is asserted; speed is what the harness measures, not what the test checks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { goals } from '../../bench/compare/report.js';
import type { SystemResult } from '../../bench/compare/results.js';

/** Processes still alive that inherited this run's tag in their environment. */
function tagged(tag: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'utf8').includes(`BENCH_TEST_TAG=${tag}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function runBench(args: string[], tag: string) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    env: { ...process.env, BENCH_TEST_TAG: tag },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, stdout: () => stdout, stderr: () => stderr, exited };
}

async function benchDatabases(): Promise<string[] | null> {
  const client = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  try {
    await client.connect();
  } catch {
    return null;
  }
  try {
    return (await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")).rows.map(
      (r) => r.datname,
    );
  } finally {
    await client.end();
  }
}

test('a quick run of the ceiling writes the table and the chart and leaves no server running', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-harness-'));
  const tag = randomBytes(6).toString('hex');
  try {
    const run = runBench(['--quick', '--only', 'ceiling', '--out', path.join(dir, 'page.md')], tag);
    assert.equal(await run.exited, 0, run.stderr());
    const page = readFileSync(path.join(dir, 'page.md'), 'utf8');
    const row = page.split('\n').find((l) => l.startsWith('| Ceiling'));
    assert.ok(row, page);
    const cells = row.split('|').map((c) => c.trim());
    assert.ok(Number(cells[2]!.replace(/,/g, '')) > 0, `events/s in ${row}`);
    assert.equal(cells[3], '1.00×', 'the ceiling is 1× itself');
    assert.equal(cells[7], '0', 'no non-2xx answer from a server that only verifies valid signatures');
    assert.match(page, /Command: `node --import tsx bench\/run.ts --quick --only ceiling/);
    assert.match(page, /Load average \(1, 5, 15 min\) at start: [\d.]+ [\d.]+ [\d.]+/);
    assert.match(page, /!\[[^\]]*\]\(page\.svg\)/);
    const chart = readFileSync(path.join(dir, 'page.svg'), 'utf8');
    assert.match(chart, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(chart, /Ceiling \(no storage\)/);
    assert.match(chart, /\(1\.00×\)/);
    assert.deepEqual(tagged(tag), [], 'the ceiling server was stopped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C during a run stops its servers and drops the databases it created', { timeout: 120_000 }, async (t) => {
  const before = await benchDatabases();
  if (before === null) return t.skip('no PostgreSQL at BENCH_DATABASE_URL');
  const tag = randomBytes(6).toString('hex');
  const run = runBench(['--quick', '--only', 'naive'], tag);
  const deadline = Date.now() + 60_000;
  while (!run.stderr().includes('naive: warm-up') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(run.stderr().includes('naive: warm-up'), run.stderr());
  assert.ok(
    (await benchDatabases())!.some((d) => d.startsWith('bench_naive_') && !before.includes(d)),
    'its database exists while it runs',
  );
  run.proc.kill('SIGINT');
  assert.equal(await run.exited, 130, run.stderr());
  assert.deepEqual(tagged(tag), [], 'the naive server was stopped');
  const after = (await benchDatabases())!;
  assert.deepEqual(
    after.filter((d) => d.startsWith('bench_naive_') && !before.includes(d)),
    [],
    'the database was dropped',
  );
});

test('an unknown system is refused with the list of systems, before anything starts', async () => {
  const run = runBench(['--only', 'sluice-mongo'], randomBytes(6).toString('hex'));
  assert.equal(await run.exited, 2);
  assert.match(run.stderr(), /unknown system sluice-mongo; choose from ceiling, naive, sync-engine, sluice-postgres, sluice-embedded/);
});

function result(system: SystemResult['system'], perSecond: number, p99: number, extra: Partial<SystemResult> = {}): SystemResult {
  return {
    system,
    loadavgBefore: '0 0 0',
    ingest: {
      perSecond,
      p50: p99 / 2,
      p99,
      acked: 1,
      sent: 1,
      non2xx: 0,
      failed: 0,
      statuses: {},
      seconds: 1,
      peak: { serverMb: 150, databaseMb: 0, databaseProcesses: 0, totalMb: 150 },
      cpu: { server: 1, database: 0, client: 0.5 },
      stored: null,
    },
    lag: null,
    sluice: null,
    notes: [],
    ...extra,
  };
}

test('the goals table compares Sluice with the ceiling and the naive handler of the same run', () => {
  const lag = {
    offeredRate: 1000,
    acceptedRate: 1000,
    events: 1,
    measured: 1,
    unprocessed: 0,
    lowerBound: false,
    p50: 5,
    p99: 150,
    how: '',
  };
  const rows = goals([result('ceiling', 10_000, 4), result('naive', 1_000, 30), result('sluice-postgres', 6_000, 12, { lag })]);
  const byGoal = Object.fromEntries(rows.map((g) => [g.goal, g]));
  assert.deepEqual([byGoal['PostgreSQL: ingest vs ceiling']!.measured, byGoal['PostgreSQL: ingest vs ceiling']!.met], ['0.60×', true]);
  assert.deepEqual(
    [byGoal['PostgreSQL: ingest vs naive handler']!.measured, byGoal['PostgreSQL: ingest vs naive handler']!.met],
    ['6.00×', true],
  );
  assert.deepEqual(
    [byGoal['PostgreSQL: ingest p99 at 32 connections']!.measured, byGoal['PostgreSQL: ingest p99 at 32 connections']!.met],
    ['12 ms', false],
  );
  assert.equal(byGoal['PostgreSQL: receipt → CRM row p99 at 1,000/s offered']!.met, true);
  assert.equal(byGoal['PostgreSQL: projection (default workers)']!.met, null, 'not measured is neither met nor failed');

  // Events still unprocessed when listed make the lag a lower bound, which cannot meet a ceiling.
  const late = goals([result('sluice-postgres', 6_000, 5, { lag: { ...lag, unprocessed: 3, lowerBound: true } })]);
  const lagGoal = late.find((g) => g.goal.startsWith('PostgreSQL: receipt'))!;
  assert.deepEqual([lagGoal.measured, lagGoal.met], ['≥ 150 ms', false]);
});
