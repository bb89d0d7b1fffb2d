// The console's open-incident badge costs one count per page of a workspace: how much, with a long incident
// history. Seeds a workspace with --resolved resolved incidents and --open open ones (plus a second workspace with
// as many open ones, so the count must not read other workspaces), then times countOpenIncidents R times and
// prints the plan PostgreSQL chose.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/console-nav-count.ts [--resolved 200000] [--open 500] [--requests 2000]
// A fresh schema on that server, dropped at the end.
import { parseArgs } from 'node:util';
import { countOpenIncidents } from '../src/db/queries/console-nav.js';
import { OPEN_INCIDENTS_CAP } from '../src/services/incidents/count-open-incidents.js';
import { createTestStore, openMigrated } from '../test/helpers/db.js';
import { pct } from './lib.js';

const { values } = parseArgs({
  options: {
    resolved: { type: 'string', default: '200000' },
    open: { type: 'string', default: '500' },
    requests: { type: 'string', default: '2000' },
  },
});
const RESOLVED = Math.max(0, Math.min(Number(values.resolved), 5_000_000));
const OPEN = Math.max(0, Math.min(Number(values.open), 1_000_000));
const R = Math.max(10, Math.min(Number(values.requests), 100_000));

const store = await createTestStore();
const db = await openMigrated(store);
try {
  const t0 = performance.now();
  for (const ws of ['ws_bench_badge', 'ws_bench_other']) await db.query(`INSERT INTO workspaces (id, name) VALUES ($1, $1)`, [ws]);
  // One distinct dedup key per incident (the unique live index allows one live row per key).
  const seed = (ws: string, status: string, n: number, from: number) =>
    db.query(
      `INSERT INTO incidents (id, workspace_id, kind, severity, status, dedup_key, subject, title, first_seen_at, last_seen_at, opened_at, resolved_at)
       SELECT 'inc_' || lpad(to_hex(g), 24, '0'), $1, 'access_missing', 'warning', $2, 'access_missing:parity:' || g, 'cus_' || g,
              'Paid but has no access', now() - g * interval '1 second', now() - g * interval '1 second', now() - g * interval '1 second',
              CASE WHEN $2 = 'resolved' THEN now() END
       FROM generate_series($3::int, $3::int + $4::int - 1) g`,
      [ws, status, from, n],
    );
  await seed('ws_bench_badge', 'resolved', RESOLVED, 1);
  await seed('ws_bench_badge', 'open', OPEN, RESOLVED + 1);
  await seed('ws_bench_other', 'open', Math.max(OPEN, 10_000), RESOLVED + OPEN + 1);
  await db.query('ANALYZE incidents');
  process.stderr.write(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const plan = await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS) SELECT count(*)::int AS n FROM (
       SELECT 1 FROM incidents WHERE workspace_id = $1 AND status = 'open' ORDER BY last_seen_at DESC LIMIT $2) open_incidents`,
    ['ws_bench_badge', OPEN_INCIDENTS_CAP],
  );
  const ms: number[] = [];
  let n = 0;
  for (let i = 0; i < R; i++) {
    const t = performance.now();
    n = await countOpenIncidents(db, 'ws_bench_badge', OPEN_INCIDENTS_CAP);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(
    `incidents: ${RESOLVED.toLocaleString('en')} resolved + ${OPEN.toLocaleString('en')} open in the workspace, ` +
      `${Math.max(OPEN, 10_000).toLocaleString('en')} open in another; badge shows ${n >= OPEN_INCIDENTS_CAP ? `${OPEN_INCIDENTS_CAP - 1}+` : n}`,
  );
  console.log(
    `countOpenIncidents × ${R}: p50 ${pct(ms, 50).toFixed(3)} ms, p99 ${pct(ms, 99).toFixed(3)} ms, max ${ms[ms.length - 1]!.toFixed(3)} ms`,
  );
  console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
} finally {
  await db.close();
  await store.drop();
}
