#!/usr/bin/env node
// `npm test`: every *.test.ts under src/ and test/, run by Node's test runner with tsx for TypeScript.
// Uses the embedded database unless DATABASE_URL is set (then each test gets its own schema there).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
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
console.log(
  `running ${selected.length} test files on ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'embedded PGlite'}, Node ${process.version}`,
);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...selected], { stdio: 'inherit' });
process.exit(result.status ?? 1);
