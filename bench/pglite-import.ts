// How fast `importPgliteDataDir` carries a PGlite data dir into PostgreSQL, and whether its memory stays
// bounded as the data grows. Builds PGlite dirs holding N events of ~4.6 KB (payload jsonb + raw body, as
// ingest stores them), then imports each in a fresh child process into a fresh schema on
// BENCH_DATABASE_URL and reports rows/s and the child's peak RSS (VmHWM). PGlite itself takes most of that
// RSS just by opening; what matters is that it does not grow with N.
//
//   node --import tsx bench/pglite-import.ts [--events 5000,40000]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { openPglite } from '../src/db/pglite.js';
import { importPgliteDataDir } from '../src/db/pglite-import.js';
import { openPostgres } from '../src/db/postgres.js';

const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SELF = fileURLToPath(import.meta.url);

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.resourceUsage().maxRSS / 1024);
}

async function build(dir: string, events: number): Promise<void> {
  const db = await openPglite(dir);
  try {
    await migrate(db);
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_bench', 'bench')`);
    // One ~4.6 KB Stripe-like body, varied per row so nothing compresses to nothing.
    const filler = randomBytes(1700).toString('hex');
    for (let from = 1; from <= events; from += 5000) {
      const to = Math.min(events, from + 4999);
      await db.query(
        `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, livemode, provider_created_at, payload, raw_body, status, processed_at)
         SELECT 'ev_' || lpad(i::text, 10, '0'), 'ws_bench', 'stripe', 'evt_' || i, 'customer.subscription.updated', false,
                now() - i * interval '1 second', b::jsonb, b, 'processed', now()
           FROM generate_series($1::int, $2::int) AS i,
                LATERAL (SELECT json_build_object('id', 'evt_' || i, 'type', 'customer.subscription.updated',
                          'data', json_build_object('object', json_build_object('id', 'sub_' || i, 'pad', md5(i::text) || $3)))::text AS b) AS body`,
        [from, to, filler],
      );
    }
  } finally {
    await db.close();
  }
}

async function importOnce(dir: string): Promise<void> {
  const schema = `bench_import_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(BASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const target = await openPostgres(url.toString());
  try {
    await migrate(target);
    const started = process.hrtime.bigint();
    const result = await importPgliteDataDir(dir, target);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(`${JSON.stringify({ ...result, seconds, peakRssMb: peakRssMb() })}\n`);
  } finally {
    await target.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

const { values } = parseArgs({ options: { events: { type: 'string', default: '5000,40000' }, 'import-only': { type: 'string' } } });
if (values['import-only']) {
  await importOnce(values['import-only']);
} else {
  console.log('| events | rows imported | seconds | rows/s | MB/s (bodies) | peak RSS of the importing process |');
  console.log('| ------ | ------------- | ------- | ------ | ------------- | --------------------------------- |');
  for (const n of values.events.split(',').map(Number)) {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-pglite-'));
    try {
      await build(dir, n);
      const child = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--import-only', dir], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (child.status !== 0) throw new Error(child.stderr);
      const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { rows: number; seconds: number; peakRssMb: number };
      const mb = (n * 2 * 4.6) / 1024; // payload and raw body, ~4.6 KB each
      console.log(
        `| ${n} | ${r.rows} | ${r.seconds.toFixed(1)} | ${Math.round(r.rows / r.seconds)} | ${(mb / r.seconds).toFixed(1)} | ${r.peakRssMb} MB |`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
