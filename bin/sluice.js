#!/usr/bin/env node
// The `sluice` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { restartArgv } from './young-generation.js';

// The server's young generation is sized at process start: see young-generation.js. Nothing has run yet that a
// restart in place could lose (no file, socket or child is open).
const restart = restartArgv({
  execPath: process.execPath,
  execArgv: process.execArgv,
  argv: process.argv,
  nodeOptions: process.env.NODE_OPTIONS,
  canExec: typeof process.execve === 'function',
});
if (restart) {
  try {
    process.execve(process.execPath, restart, process.env);
  } catch (err) {
    // Not worth failing a start for: the server runs with V8's own young generation (more memory, as fast).
    process.stderr.write(`sluice: could not restart with ${restart[1]} (${err.message}); starting without it\n`);
  }
}

// Old-space growth: under load, projection batches and group-commit flushes keep their objects alive across a few
// young collections, so V8 promotes them and they die in old space. With V8's own factor (up to 4x the live heap)
// that garbage piled up to 100+ MB before each full collection; growing by 1.5x keeps the peak RSS near 160 MB
// instead of 230-250 MB, for about 4 % of ingest throughput (docs/benchmarks.md). Set before the app allocates
// anything. Node refuses this flag in NODE_OPTIONS; `node --heap-growing-percent=N bin/sluice.js` sets another.
if (!process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) v8.setFlagsFromString('--heap-growing-percent=50');

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('sluice: dist/ is missing; run `npm run build` in the sluice folder first.\n');
  process.exit(1);
}
const { runCli } = await import(entry.href);
process.exitCode = await runCli(process.argv.slice(2));
