// The side-by-side benchmark of issue 10: the ceiling, the naive handler, Stripe's sync engine, Sluice on
// PostgreSQL and Sluice embedded, one after the other in one run on this machine; writes docs/benchmarks.md and
// docs/benchmarks.svg. Loopback only, bounded in time; children stopped and databases dropped whatever happens.
//   npm run bench [-- --quick] [-- --only ceiling,naive,sync-engine,sluice-postgres,sluice-embedded] [-- --out file.md]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import prettier from 'prettier';
import { cleanup } from './compare/children.js';
import { runPlain } from './compare/plain.js';
import { serverVersion } from './compare/pg.js';
import { markdown, svg, type RunInfo } from './compare/report.js';
import type { SystemName, SystemResult } from './compare/results.js';
import { FULL, QUICK } from './compare/settings.js';
import { runSluice } from './compare/sluice.js';

const ALL: SystemName[] = ['ceiling', 'naive', 'sync-engine', 'sluice-postgres', 'sluice-embedded'];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    out: { type: 'string' },
    label: { type: 'string' },
  },
});
const only = (values.only ?? []).flatMap((o) => o.split(',')).filter(Boolean);
const unknown = only.filter((o) => !ALL.includes(o as SystemName));
if (unknown.length > 0) {
  console.error(`unknown system ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  process.exit(2);
}
const systems = only.length > 0 ? ALL.filter((s) => only.includes(s)) : ALL;
const settings = values.quick ? QUICK : FULL;
// A partial or quick run does not overwrite the published page unless asked to.
const out = values.out ?? (values.quick || only.length > 0 ? null : 'docs/benchmarks.md');
const limitMs = (values.quick ? 5 : 15) * 60_000;

const args = process.argv.slice(2).map((a) => (/[\s'"]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a));
const command =
  process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
    : `node --import tsx bench/run.ts ${args.join(' ')}`.trim();
/** The commit measured, marked when the work tree has changes. */
function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const log = (m: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the servers and dropping the databases`);
    void cleanup().finally(() => process.exit(130));
  });
}
const guard = setTimeout(() => {
  log(`the run exceeded ${limitMs / 60_000} min; stopping`);
  void cleanup().finally(() => process.exit(1));
}, limitMs);

async function main() {
  const startedAt = performance.now();
  const info: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command,
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      cores: os.cpus().length,
      memoryGb: os.totalmem() / 1024 ** 3,
      node: process.version,
      postgres: await serverVersion().catch(() => 'not reachable'),
      os: `${os.type()} ${os.release()}`,
    },
    loadavgStart: loadavg(),
    loadavgEnd: '',
    quick: values.quick,
    seconds: 0,
    commit: gitCommit(),
    label: values.label ?? null,
  };
  if (systems.some((s) => s.startsWith('sluice'))) {
    log('building dist/ if stale');
    execFileSync(process.execPath, ['scripts/build-if-stale.mjs'], { stdio: 'inherit' });
  }
  const results: SystemResult[] = [];
  for (const system of systems) {
    log(`${system}: starting (load average ${loadavg()})`);
    const result =
      system === 'sluice-postgres'
        ? await runSluice('postgres', settings, log)
        : system === 'sluice-embedded'
          ? await runSluice('embedded', settings, log)
          : await runPlain(system, settings, log);
    log(`${system}: ${Math.round(result.ingest.perSecond)} events/s, p99 ${result.ingest.p99.toFixed(1)} ms`);
    results.push(result);
  }
  info.loadavgEnd = loadavg();
  info.seconds = (performance.now() - startedAt) / 1000;
  const svgPath = out ? out.replace(/\.md$/, '') + '.svg' : null;
  const page = markdown(results, info, svgPath ? path.basename(svgPath) : 'benchmarks.svg');
  console.log(page);
  if (out && svgPath) {
    mkdirSync(path.dirname(out), { recursive: true });
    // Formatted as the repository's own markdown is, so `npm run lint` stays green after a run.
    writeFileSync(out, await prettier.format(page, { ...(await prettier.resolveConfig(out)), parser: 'markdown' }));
    writeFileSync(
      svgPath,
      svg(
        results,
        `${info.machine.cpu}, ${info.machine.cores} cores, Node ${info.machine.node}, ${info.date.slice(0, 10)}; load average before each system: ${results.map((r) => r.loadavgBefore.split(' ')[0]).join(', ')}`,
      ),
    );
    log(`wrote ${out} and ${svgPath}`);
  }
}

try {
  await main();
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
  await cleanup();
}
