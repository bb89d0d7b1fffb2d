#!/usr/bin/env node
// `npm test`: every *.test.ts under src/ and test/, run by Node's test runner with tsx for TypeScript.
// Without DATABASE_URL the tests run on the embedded PostgreSQL: one server, started here through Sluice's own
// supervisor (scripts/test-cluster.ts) and stopped at the end whatever happens, is shared by the in-process
// tests, each in its own schema (as on DATABASE_URL); tests that spawn real `sluice` processes give each its
// own data dir, so those start their own embedded server exactly as a user's first start does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const files = [...findTests('src'), ...findTests('test')].sort();
const filter = process.argv.slice(2);
const selected = filter.length > 0 ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error(`no test file matches ${filter.join(' ')}`);
  process.exit(1);
}

const env = { ...process.env };
let clusterDir;
if (!process.env.DATABASE_URL) {
  clusterDir = mkdtempSync(path.join(tmpdir(), 'sluice-testdb-'));
  const started = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-cluster.ts', 'start', clusterDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (started.status !== 0) {
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-cluster.ts', 'stop', clusterDir], { stdio: 'inherit' });
    rmSync(clusterDir, { recursive: true, force: true });
    console.error('could not start the embedded PostgreSQL server for the tests');
    process.exit(1);
  }
  env.SLUICE_TEST_EMBEDDED_URL = started.stdout.trim();
}

console.log(
  `running ${selected.length} test files on ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'the embedded PostgreSQL'}, Node ${process.version}`,
);
// Ctrl-C reaches the test runner too (same terminal): this process waits for it to end, then cleans up.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
let status = 1;
try {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...selected], { stdio: 'inherit', env });
  status = result.status ?? 1;
} finally {
  if (clusterDir) {
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-cluster.ts', 'stop', clusterDir], { stdio: 'inherit' });
    rmSync(clusterDir, { recursive: true, force: true });
  }
}
process.exit(status);
