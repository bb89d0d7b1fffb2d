#!/usr/bin/env node
// `npm start` runs this first: compiles src/ to dist/ only when the sources changed since the last build, so a
// restart does not pay for a full tsc run (seconds to tens of seconds on a small machine). The fingerprint is a
// hash of the compiler's inputs (every non-test .ts and .tsx file under src/, the tsconfig files, the TypeScript
// version), kept in dist/.build-fingerprint. `--force` always builds (npm run build).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const stampFile = path.join(root, 'dist', '.build-fingerprint');
// A build is usable only if the entry points exist: someone may have deleted part of dist/.
const entries = ['dist/cli/main.js', 'dist/main.js'].map((p) => path.join(root, p));

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.test.ts') ? [full] : [];
  });
}

function fingerprint() {
  const hash = createHash('sha256');
  const typescript = JSON.parse(readFileSync(path.join(root, 'node_modules/typescript/package.json'), 'utf8')).version;
  hash.update(`typescript ${typescript}\0`);
  const files = [...sources(path.join(root, 'src')), path.join(root, 'tsconfig.json'), path.join(root, 'tsconfig.build.json')].sort();
  for (const f of files) {
    // Path and content both: a renamed file changes dist/ even when its text does not.
    hash.update(`${path.relative(root, f)}\0`);
    hash.update(readFileSync(f));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const force = process.argv.includes('--force');
const wanted = fingerprint();
const current = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined;
if (!force && current === wanted && entries.every((e) => existsSync(e))) {
  console.log('dist/ is up to date with src/; skipping the build');
  process.exit(0);
}
console.log(force ? 'building dist/' : 'src/ changed since the last build: building dist/');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (result.status !== 0) process.exit(result.status ?? 1);
writeFileSync(stampFile, `${wanted}\n`);
