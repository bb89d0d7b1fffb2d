// Scale: the events list and ingest with millions of stored events, against a real `sluice start` (compiled
// dist/) on PostgreSQL.
//   1. seed: a fresh database gets its schema from the server's own migrations, a few workspaces through the
//      API, then N events written set-based (INSERT … SELECT FROM generate_series, in chunks) with the plain
//      indexes dropped during the load and rebuilt after it, then VACUUM ANALYZE (as autovacuum leaves an old
//      table). A realistic mix: skewed workspace sizes, Stripe and Piano, a dozen types, 95 % processed,
//      4 % ignored (types nobody handles), 1 % failed, received over the last 180 days.
//   2. list: sequential GETs of /api/v1/workspaces/:ws/events through real HTTP with each filter (type,
//      status, provider, since, cursors deep in the list, a type the workspace never had, families of types, a
//      type or family with a provider that never sent it): p50/p99 per kind
//      and over all; the health view and /metrics are timed too.
//   3. ingest: signed Stripe events from C keep-alive clients into a new workspace of the seeded database,
//      then the same into an empty database: acked/s and the ratio.
// The database is dropped at the end (unless --keep). Payloads default to ~512 bytes (raw body and jsonb, so
// ~1.3 KB a row): 10 M events of Stripe's usual 4.6 KB would be ~100 GB with the raw bodies and their WAL.
//   npm run build && node --import tsx bench/scale.ts [--events 10000000] [--payload-bytes 512] [--requests 400]
//     [--health-requests 20] [--ingest-events 4000] [--concurrency 20] [--keep] [--reuse DBNAME] [--seed-only]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { idFloor } from '../src/lib/ids.js';
import { agent, createBenchWorkspace, pct, postAll, request, startServer, TOKEN } from './lib.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    'payload-bytes': { type: 'string', default: '512' },
    requests: { type: 'string', default: '400' },
    'health-requests': { type: 'string', default: '20' },
    'ingest-events': { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '20' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'string' },
    'seed-only': { type: 'boolean', default: false },
    'skip-empty': { type: 'boolean', default: false },
  },
});
const N = Math.min(Number(values.events), 50_000_000);
const PAYLOAD = Math.max(200, Math.min(Number(values['payload-bytes']), 8192));
const REQUESTS = Math.min(Number(values.requests), 5000);
const INGEST = Math.min(Number(values['ingest-events']), 50_000);
const C = Math.min(Number(values.concurrency), 200);
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DAYS = 180;
const CHUNK = 500_000;
// Share of the events per workspace: one big tenant, a few smaller ones.
const WS_SHARES = [0.5, 0.3, 0.15, 0.05];

function urlFor(db: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function createDatabase(): Promise<string> {
  const name = `sluice_scale_${randomBytes(4).toString('hex')}`;
  await withClient(PG_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  return name;
}

async function dropDatabase(name: string): Promise<void> {
  await withClient(PG_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

function serverEnv(db: string): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    DATABASE_URL: urlFor(db),
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_DATA_DIR: `/tmp/sluice-scale-${db}`,
    SLUICE_SECRET_KEY: 'bench-scale-secret-key-0123456789abcdef',
    LOG_LEVEL: 'info',
    // Retention would start deleting the seeded history (half of it is past 90 days) under the measurement.
    SLUICE_RETENTION_INTERVAL_SECONDS: '0',
  };
}

// Same encoding as src/lib/ids.ts (Crockford base32 of the milliseconds, 10 characters), in SQL, so seeded
// ids sort by their receipt time exactly like real ones.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const encodeTimeSql = (ms: string) =>
  Array.from({ length: 10 }, (_, i) => `substr('${ALPHABET}', (((${ms}) >> ${5 * (9 - i)}) & 31)::int + 1, 1)`).join(' || ');

// Weighted by repetition. Types without a handler are stored as 'ignored'.
const STRIPE_TYPES = [
  ...Array<string>(6).fill('customer.subscription.updated'),
  ...Array<string>(3).fill('invoice.paid'),
  ...Array<string>(3).fill('payment_intent.succeeded'),
  ...Array<string>(3).fill('charge.succeeded'),
  ...Array<string>(2).fill('customer.updated'),
  'customer.created',
  'customer.subscription.created',
  'customer.subscription.deleted',
  'checkout.session.completed',
  'invoice.payment_failed',
  'radar.early_fraud_warning.created',
];
const PIANO_TYPES = ['access_granted', 'access_granted', 'access_revoked', 'new_purchase', 'user_updated'];
const UNHANDLED = ['radar.early_fraud_warning.created', 'user_updated'];
const sqlArray = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]`;

async function seed(db: string): Promise<string[]> {
  // Schema from the server's migrations, workspaces through the API.
  const server = await startServer(serverEnv(db), [], 600_000);
  const workspaces: string[] = [];
  try {
    for (let i = 0; i < WS_SHARES.length; i++) workspaces.push(await createBenchWorkspace(server.base));
  } finally {
    await server.stop();
  }
  await withClient(urlFor(db), async (c) => {
    await c.query(`SET synchronous_commit = off`);
    await c.query(`SET maintenance_work_mem = '256MB'`);
    // Plain indexes (not the ones behind constraints) are dropped for the load and rebuilt after it.
    const { rows: indexes } = await c.query<{ name: string; def: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
       WHERE i.indrelid = 'events'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
    );
    for (const ix of indexes) await c.query(`DROP INDEX ${ix.name}`);
    const pad = Math.max(0, Math.ceil((PAYLOAD - 260) / 32));
    const startMs = Date.now() - DAYS * 86_400_000;
    const stepMs = (DAYS * 86_400_000 - 3_600_000) / N; // the newest seeded event is an hour old
    const wsCase = `CASE ${WS_SHARES.map((_, i) => `WHEN r1 < ${WS_SHARES.slice(0, i + 1).reduce((a, b) => a + b, 0)} THEN '${workspaces[i]}'`).join(' ')} ELSE '${workspaces[0]}' END`;
    const t0 = performance.now();
    const insertSql = (from: number, to: number) =>
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, livemode, provider_created_at, payload, raw_body,
                             status, attempts, next_attempt_at, error, received_at, processed_at)
         SELECT id, ws, provider, peid, type, false, ts, payload, payload::text,
                status, 1, ts, CASE WHEN status = 'failed' THEN 'seeded failure' END, ts,
                ts + interval '40 milliseconds'
         FROM (
           SELECT *, CASE WHEN type = ANY(${sqlArray(UNHANDLED)}) THEN 'ignored' WHEN r3 < 0.01 THEN 'failed' ELSE 'processed' END AS status,
                  jsonb_build_object('id', peid, 'object', 'event', 'type', type, 'created', floor(extract(epoch FROM ts)),
                    'data', jsonb_build_object('object', jsonb_build_object('id', 'obj_' || (n % 200000), 'customer', 'cus_' || (n % 50000),
                      'status', 'active', 'note', repeat(md5(n::text), ${pad})))) AS payload
           FROM (
             SELECT n, ms, 'ev_' || ${encodeTimeSql('ms')} || substr(md5(n::text), 1, 14) AS id, ${wsCase} AS ws,
                    p AS provider, 'evt_seed_' || lpad(n::text, 9, '0') AS peid, to_timestamp(ms / 1000.0) AS ts, r3,
                    CASE WHEN p = 'piano' THEN (${sqlArray(PIANO_TYPES)})[1 + floor(r2 * ${PIANO_TYPES.length})::int]
                         ELSE (${sqlArray(STRIPE_TYPES)})[1 + floor(r2 * ${STRIPE_TYPES.length})::int] END AS type
             FROM (
               SELECT n, (${startMs}::bigint + floor(n * ${stepMs})::bigint) AS ms, random() AS r1, random() AS r2, random() AS r3,
                      CASE WHEN random() < 0.15 THEN 'piano' ELSE 'stripe' END AS p
               FROM generate_series(${from}::bigint, ${to}::bigint) n
             ) a
           ) b
         ) e`;
    // Two loaders side by side (each chunk is one statement on its own connection): the load is CPU-bound in
    // one backend otherwise.
    let next = 1;
    let loaded = 0;
    const loader = async () => {
      const lc = new pg.Client({ connectionString: urlFor(db) });
      await lc.connect();
      try {
        await lc.query('SET synchronous_commit = off');
        while (next <= N) {
          const from = next;
          next += CHUNK;
          const to = Math.min(N, from + CHUNK - 1);
          await lc.query(insertSql(from, to));
          loaded += to - from + 1;
          const s = (performance.now() - t0) / 1000;
          process.stderr.write(
            `\rseeded ${loaded.toLocaleString('en')} / ${N.toLocaleString('en')} events in ${s.toFixed(0)} s (${Math.round(loaded / s)}/s)   `,
          );
        }
      } finally {
        await lc.end();
      }
    };
    await Promise.all([loader(), loader()]);
    process.stderr.write('\n');
    for (const ix of indexes) {
      const t = performance.now();
      await c.query(ix.def);
      process.stderr.write(`rebuilt ${ix.name} in ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
    }
    const t = performance.now();
    await c.query('VACUUM ANALYZE events');
    process.stderr.write(`VACUUM ANALYZE events in ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
    const { rows } = await c.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('events')) AS size`);
    process.stderr.write(`events table with its indexes and TOAST: ${rows[0]!.size}\n`);
  });
  return workspaces;
}

interface Probe {
  kind: string;
  path: () => string;
}

function probes(workspaces: string[]): Probe[] {
  const big = workspaces[0]!;
  const small = workspaces[workspaces.length - 1]!;
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  const ev = (ws: string, q: string) => `/workspaces/${ws}/events${q ? `?${q}` : ''}`;
  // A cursor anywhere in the 180 days: the page after it is as deep as a reader who paged down to there.
  const deepCursor = () => `${idFloor('ev', Date.now() - Math.floor(Math.random() * DAYS * 86_400_000))}zzzzzzzzzzzzzz`;
  const ago = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
  return [
    { kind: 'newest page', path: () => ev(pick(workspaces), '') },
    { kind: 'type', path: () => ev(big, `type=${pick(STRIPE_TYPES)}`) },
    { kind: 'type, deep cursor', path: () => ev(big, `type=${pick(STRIPE_TYPES)}&cursor=${deepCursor()}`) },
    { kind: 'type never seen', path: () => ev(pick(workspaces), 'type=invoice.finalized') },
    { kind: 'status=failed', path: () => ev(pick([big, small]), 'status=failed') },
    { kind: 'status=failed, deep cursor', path: () => ev(big, `status=failed&cursor=${deepCursor()}`) },
    { kind: 'status=ignored', path: () => ev(big, 'status=ignored') },
    { kind: 'status=received (none)', path: () => ev(big, 'status=received') },
    { kind: 'provider=piano', path: () => ev(big, 'provider=piano') },
    { kind: 'provider=piano&status=failed', path: () => ev(big, 'provider=piano&status=failed') },
    { kind: 'type&status', path: () => ev(big, `type=invoice.payment_failed&status=failed`) },
    { kind: 'family customer.*', path: () => ev(big, 'type=customer.*') },
    { kind: 'family&status', path: () => ev(big, 'type=customer.subscription.*&status=ignored') },
    { kind: 'family, provider never sent it', path: () => ev(big, 'type=customer.subscription.*&provider=piano') },
    { kind: 'type, provider never sent it', path: () => ev(big, 'type=customer.subscription.updated&provider=piano') },
    { kind: 'type&provider', path: () => ev(big, 'type=access_granted&provider=piano') },
    { kind: 'since 2 h (empty)', path: () => ev(big, `since=${ago(0.5)}`) },
    { kind: 'since 7 days', path: () => ev(big, `since=${ago(168)}&status=failed`) },
    { kind: 'deep cursor, limit 500', path: () => ev(big, `limit=500&cursor=${deepCursor()}`) },
  ];
}

/** Waits (at most two minutes) until no event waits for processing: events left by an earlier ingest run on a
 *  reused database would otherwise be projected by this server's worker while the reads are timed. */
async function drained(db: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const n = await withClient(
      urlFor(db),
      async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE status = 'received'`)).rows[0]!.n,
    );
    if (n === 0) return;
    process.stderr.write(`\rwaiting for ${n} events to be processed before timing reads   `);
    await new Promise((r) => setTimeout(r, 1000));
  }
  process.stderr.write('\nsome events are still waiting; reads are timed beside their processing\n');
}

async function timed(base: string, path: string): Promise<number> {
  const t = performance.now();
  const res = await request(`${base}/api/v1${path}`, 'GET', undefined, { authorization: `Bearer ${TOKEN}` });
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  return ms;
}

async function measureReads(base: string, workspaces: string[]) {
  const list = probes(workspaces);
  for (const p of list) await timed(base, p.path()); // warm the connections and the plan paths once
  const byKind = new Map<string, number[]>();
  const all: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const p = list[i % list.length]!;
    const ms = await timed(base, p.path());
    all.push(ms);
    byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), ms]);
  }
  const row = (kind: string, xs: number[]) => {
    xs.sort((a, b) => a - b);
    return {
      kind,
      n: xs.length,
      'p50 ms': +pct(xs, 50).toFixed(1),
      'p99 ms': +pct(xs, 99).toFixed(1),
      'max ms': +xs[xs.length - 1]!.toFixed(1),
    };
  };
  const rows = [...byKind].map(([k, xs]) => row(k, xs));
  rows.push(row('ALL list requests', all));
  const health: number[] = [];
  const metrics: number[] = [];
  for (let i = 0; i < Math.min(Number(values['health-requests']), 500); i++) {
    health.push(await timed(base, `/workspaces/${workspaces[0]}/health`));
    const t = performance.now();
    await request(`${base}/metrics`, 'GET');
    metrics.push(performance.now() - t);
  }
  rows.push(row('health view (big workspace)', health));
  rows.push(row('GET /metrics', metrics));
  return rows;
}

function subscriptionEvent(n: number): string {
  const now = Math.floor(Date.now() / 1000);
  return JSON.stringify({
    id: `evt_scale_${n}_${randomBytes(4).toString('hex')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: now,
    type: 'customer.subscription.updated',
    livemode: false,
    pending_webhooks: 1,
    data: {
      object: {
        id: `sub_scale_${n % 500}`,
        object: 'subscription',
        customer: `cus_scale_${n % 500}`,
        status: 'active',
        metadata: { note: 'x'.repeat(1500) },
      },
      previous_attributes: { status: 'trialing' },
    },
  });
}

async function measureIngest(base: string): Promise<{ 'acked/s': number; 'p50 ms': number; 'p99 ms': number; 'non-200': number }> {
  const ws = await createBenchWorkspace(base);
  await postAll(
    base,
    ws,
    Array.from({ length: 200 }, (_, i) => subscriptionEvent(-i - 1)),
    C,
  ); // warm-up
  const { latencies, errors, seconds } = await postAll(
    base,
    ws,
    Array.from({ length: INGEST }, (_, i) => subscriptionEvent(i)),
    C,
  );
  latencies.sort((a, b) => a - b);
  return {
    'acked/s': Math.round((INGEST - errors) / seconds),
    'p50 ms': +pct(latencies, 50).toFixed(1),
    'p99 ms': +pct(latencies, 99).toFixed(1),
    'non-200': errors,
  };
}

async function main() {
  const db = values.reuse ?? (await createDatabase());
  let workspaces: string[];
  try {
    if (values.reuse) {
      workspaces = await withClient(urlFor(db), async (c) =>
        (
          await c.query<{ workspace_id: string }>(
            `SELECT workspace_id FROM events WHERE provider_event_id LIKE 'evt_seed_%' GROUP BY 1 ORDER BY count(*) DESC`,
          )
        ).rows.map((r) => r.workspace_id),
      );
    } else {
      workspaces = await seed(db);
    }
    if (values['seed-only']) {
      console.log(`seeded database ${db} (workspaces ${workspaces.join(', ')})`);
      return;
    }
    const t = performance.now();
    const server = await startServer(serverEnv(db), [], 900_000);
    process.stderr.write(`server up on the seeded database in ${((performance.now() - t) / 1000).toFixed(1)} s (migrations included)\n`);
    let reads;
    let full;
    try {
      await drained(db);
      reads = await measureReads(server.base, workspaces);
      full = await measureIngest(server.base);
    } finally {
      await server.stop();
    }
    const stored = await withClient(
      urlFor(db),
      async (c) => (await c.query<{ n: string }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'events'`)).rows[0]!.n,
    );
    console.log(
      `\nEvents list and health through HTTP, ${Number(stored).toLocaleString('en')} events stored (estimate), one request at a time:`,
    );
    console.table(reads);
    if (!values['skip-empty']) {
      const emptyDb = await createDatabase();
      try {
        const s = await startServer(serverEnv(emptyDb));
        try {
          const empty = await measureIngest(s.base);
          console.log(`\nIngest, ${INGEST} signed events from ${C} clients:`);
          console.table([
            { database: 'empty', ...empty },
            { database: `${Number(stored).toLocaleString('en')} events`, ...full, ratio: +(full['acked/s'] / empty['acked/s']).toFixed(2) },
          ]);
        } finally {
          await s.stop();
        }
      } finally {
        await dropDatabase(emptyDb);
      }
    } else {
      console.table([{ database: 'seeded', ...full }]);
    }
  } finally {
    if (values.keep || values.reuse || values['seed-only']) console.log(`kept database ${db}`);
    else await dropDatabase(db);
    agent.destroy();
  }
}

await main();
