// Workflow runs of a 3-step internal workflow (crm.tag → crm.set → access.grant), started by custom events
// published through `POST /api/v1/workspaces/:ws/events`, on the compiled server (dist/):
//   1. burst: N events published as fast as `--concurrency` clients can: runs/s from the first message's creation
//      to the last run's end, and CPU time per run of the Sluice process and of its database backends;
//   2. steady: events published at half the burst rate for `--seconds`: trigger → first step lag.
// Every figure comes from the stored timestamps (messages.created_at, workflow_runs, workflow_steps), read over
// SQL once the phase is over. Each run does real work: a new tag, an attribute, a new access row (so each run also
// publishes customer.tagged and access.granted, which pass through the trigger inbox, and marks a parity check due).
// Loopback only; bounded in count (N ≤ 20,000) and time (every wait has a deadline; the server is killed after 10
// min whatever happens); stops by itself.
//   npm run build && node --import tsx bench/workflows.ts [--db postgres|embedded|both] [--events 2000]
//     [--concurrency 16] [--seconds 10] [--customers 200]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { startEmbeddedServer } from '../src/db/embedded/supervisor.js';
import { cpuSeconds, relatedPids } from './compare/memory.js';
import { agent, api, pct, request, signStripe, startServer, TOKEN, SECRET, type BenchDb } from './lib.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'both' },
    events: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '10' },
    customers: { type: 'string', default: '200' },
  },
});
const N = Math.max(10, Math.min(Number(values.events), 20_000));
const CONCURRENCY = Math.max(1, Math.min(Number(values.concurrency), 64));
const SECONDS = Math.max(1, Math.min(Number(values.seconds), 60));
const CUSTOMERS = Math.max(1, Math.min(Number(values.customers), 2000, N));
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVER_LIMIT_MS = 600_000;

const WORKFLOW = {
  name: 'bench: tag, set, grant',
  trigger: { type: 'bench.run' },
  steps: [
    { id: 'tag', kind: 'crm.tag', add: ['t{{ event.i }}'] },
    { id: 'set', kind: 'crm.set', attributes: { last: '{{ event.i }}' } },
    { id: 'grant', kind: 'access.grant', resource: 'r{{ event.i }}' },
  ],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh database of its own on PostgreSQL (so its backends can be told apart), or a fresh embedded data dir. */
async function benchDatabase(db: BenchDb) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-wfbench-'));
  const name = `sluice_wfbench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SLUICE_DATA_DIR: dataDir,
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_SECRET_KEY: 'bench-workflows-master-key-0123456789abcdef',
    LOG_LEVEL: 'info',
  };
  delete env.DATABASE_URL;
  if (db === 'postgres') {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(ADMIN_URL);
    u.pathname = `/${name}`;
    env.DATABASE_URL = u.toString();
  }
  return {
    env,
    dataDir,
    name,
    async drop() {
      if (db === 'postgres') {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** CPU seconds of a set of processes that may grow (a pool opening connections): new ones count from zero. */
function cpuOf(pids: () => Promise<number[]>) {
  let start = new Map<number, number>();
  return {
    async begin() {
      start = new Map((await pids()).map((p) => [p, cpuSeconds(p)]));
    },
    async end(): Promise<number> {
      const now = new Set([...(await pids()), ...start.keys()]);
      let sum = 0;
      for (const p of now) sum += cpuSeconds(p) - (start.get(p) ?? 0);
      return sum;
    },
  };
}

async function publish(base: string, ws: string, i: number): Promise<void> {
  const body = JSON.stringify({ type: 'bench.run', data: { i, customerId: `cus_wfbench_${i % CUSTOMERS}` } });
  const res = await request(`${base}/api/v1/workspaces/${ws}/events`, 'POST', body, { authorization: `Bearer ${TOKEN}` });
  if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${res.body}`);
}

interface PhaseTimes {
  runs: number;
  succeeded: number;
  /** ms from the first message's creation to the last run's end. */
  spanMs: number;
  /** message created → first step row created (the run started), ms. */
  toRun: number[];
  /** message created → first step's transaction (its finished_at is that transaction's start: when it ran), ms. */
  toFirstStep: number[];
}

/** The phase's runs (events with i in [from, to)), from the stored timestamps. */
async function phaseTimes(sql: pg.Client, from: number, to: number): Promise<PhaseTimes> {
  const { rows } = await sql.query<{ status: string; created: Date; runFinished: Date | null; queued: Date; ran: Date | null }>(
    `SELECT r.status, m.created_at AS created, r.finished_at AS "runFinished", s.created_at AS queued, s.finished_at AS ran
     FROM messages m
     JOIN workflow_runs r ON r.message_id = m.id
     JOIN workflow_steps s ON s.run_id = r.id AND s.step_id = 'tag'
     WHERE m.type = 'bench.run' AND (m.data->>'i')::int >= $1 AND (m.data->>'i')::int < $2`,
    [from, to],
  );
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const first = Math.min(...rows.map((r) => r.created.getTime()));
  const last = Math.max(...rows.map((r) => r.runFinished?.getTime() ?? 0));
  return {
    runs: rows.length,
    succeeded: rows.filter((r) => r.status === 'succeeded').length,
    spanMs: last - first,
    toRun: sorted(rows.map((r) => r.queued.getTime() - r.created.getTime())),
    toFirstStep: sorted(rows.filter((r) => r.ran).map((r) => r.ran!.getTime() - r.created.getTime())),
  };
}

/** Statements this script ran on the database (each one a commit), so they can be taken out of commits/run. */
let ownStatements = 0;

async function waitRuns(sql: pg.Client, from: number, to: number, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    ownStatements++;
    const { rows } = await sql.query<{ n: string }>(
      `SELECT count(*) AS n FROM workflow_runs r JOIN messages m ON m.id = r.message_id
       WHERE m.type = 'bench.run' AND (m.data->>'i')::int >= $1 AND (m.data->>'i')::int < $2 AND r.finished_at IS NOT NULL`,
      [from, to],
    );
    if (Number(rows[0]!.n) >= to - from) return true;
    await sleep(200);
  }
  return false;
}

async function commits(sql: pg.Client): Promise<number> {
  ownStatements++;
  const { rows } = await sql.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
  return Number(rows[0]!.n);
}

async function run(db: BenchDb) {
  const store = await benchDatabase(db);
  const server = await startServer(store.env, [], SERVER_LIMIT_MS);
  const config = loadConfig(store.env);
  // One plain connection to read the timestamps: the bench database, or the embedded server Sluice started
  // (joined as one more member, released at the end).
  const embedded = db === 'embedded' ? await startEmbeddedServer({ dataDir: config.dataDir, osUser: config.embeddedDbUser }) : null;
  const sql = new pg.Client(embedded ? embedded.connection : { connectionString: store.env.DATABASE_URL });
  await sql.connect();
  try {
    const ws = (await api(server.base, 'POST', '/workspaces', { name: 'bench workflows' })).id as string;
    await api(server.base, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    // The customers the runs act on, through Stripe as usual.
    let nextCustomer = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (nextCustomer < CUSTOMERS) {
          const c = nextCustomer++;
          const body = JSON.stringify({
            id: `evt_wfbench_cus_${c}`,
            object: 'event',
            type: 'customer.created',
            created: Math.floor(Date.now() / 1000) - 60,
            livemode: false,
            data: { object: { id: `cus_wfbench_${c}`, object: 'customer', email: `c${c}@example.com` } },
          });
          const res = await request(`${server.base}/webhooks/stripe/${ws}`, 'POST', body, { 'stripe-signature': signStripe(body) });
          if (res.status !== 200) throw new Error(`customer.created answered ${res.status}: ${res.body}`);
        }
      }),
    );
    for (let i = 0; ; i++) {
      const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM customers WHERE workspace_id = $1', [ws]);
      if (Number(rows[0]!.n) >= CUSTOMERS) break;
      if (i === 600) throw new Error('the customers were not projected within 2 min');
      await sleep(200);
    }
    const wf = await api(server.base, 'POST', `/workspaces/${ws}/workflows`, WORKFLOW);
    if (!wf.id) throw new Error(`the workflow was refused: ${JSON.stringify(wf)}`);

    // CPU: the Sluice process; the database: its own server's processes (embedded) or the backends of the bench
    // database (PostgreSQL: the shared server's background processes are not counted).
    const serverCpu = () => cpuSeconds(server.proc.pid!);
    const own = (await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const dbCpu = cpuOf(async () =>
      embedded
        ? [...relatedPids(server.proc.pid!, store.dataDir)].filter((p) => p !== own)
        : (
            await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
              store.name,
            ])
          ).rows.map((r) => r.pid),
    );

    // 1. Burst.
    await dbCpu.begin();
    const server0 = serverCpu();
    const client0 = process.cpuUsage();
    const commits0 = await commits(sql);
    const statements0 = ownStatements;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) await publish(server.base, ws, next++);
      }),
    );
    const publishSeconds = (performance.now() - t0) / 1000;
    const complete = await waitRuns(sql, 0, N, 180_000);
    const serverSeconds = serverCpu() - server0;
    const dbSeconds = await dbCpu.end();
    const client = process.cpuUsage(client0);
    const commitsPerRun = ((await commits(sql)) - commits0 - (ownStatements - statements0)) / N;
    const burst = await phaseTimes(sql, 0, N);
    const runsPerSecond = burst.runs / (burst.spanMs / 1000);

    // What the burst left behind (trigger rows of the messages the runs published, parity checks their grants
    // made due) is worked off first, so the steady phase measures its own events.
    for (let i = 0; i < 300; i++) {
      const { rows } = await sql.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM workflow_triggers WHERE status = 'pending')
              + (SELECT count(*) FROM customers WHERE check_due_at IS NOT NULL) AS n`,
      );
      if (Number(rows[0]!.n) === 0) break;
      await sleep(200);
    }
    await sleep(1000);

    // 2. Steady: half the burst rate, for SECONDS.
    const rate = Math.max(5, Math.floor(runsPerSecond / 2));
    const count = rate * SECONDS;
    const s0 = performance.now();
    await Promise.all(
      Array.from({ length: count }, async (_, k) => {
        const wait = s0 + (k * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        await publish(server.base, ws, N + k);
      }),
    );
    const steadyComplete = await waitRuns(sql, N, N + count, 120_000);
    const steady = await phaseTimes(sql, N, N + count);

    const ms = (x: number | undefined) => (x === undefined ? '-' : x < 10 ? x.toFixed(1) : Math.round(x));
    return {
      db,
      'burst runs': `${burst.succeeded}/${N}${complete ? '' : ' (timed out)'}`,
      'publish/s': Math.round(N / publishSeconds),
      'runs/s': Math.round(runsPerSecond),
      'sluice CPU ms/run': ((serverSeconds * 1000) / N).toFixed(2),
      'db CPU ms/run': ((dbSeconds * 1000) / N).toFixed(2),
      'client CPU ms/run': ((client.user + client.system) / 1000 / N).toFixed(2),
      'commits/run': commitsPerRun.toFixed(1),
      'steady runs': `${steady.succeeded}/${count} at ${rate}/s${steadyComplete ? '' : ' (timed out)'}`,
      'msg→run p50 ms': ms(pct(steady.toRun, 50)),
      'p99 ms': ms(pct(steady.toRun, 99)),
      'msg→1st step p50 ms': ms(pct(steady.toFirstStep, 50)),
      'p99 ms ': ms(pct(steady.toFirstStep, 99)),
      'burst msg→1st step p99 ms': ms(pct(burst.toFirstStep, 99)),
    };
  } finally {
    await sql.end().catch(() => {});
    await embedded?.release().catch(() => false);
    await server.stop();
    await store.drop();
  }
}

const dbs = values.db === 'both' ? (['postgres', 'embedded'] as const) : [values.db as BenchDb];
const rows = [];
for (const db of dbs) rows.push(await run(db));
console.log(
  `node --import tsx bench/workflows.ts --db ${values.db} --events ${N} --concurrency ${CONCURRENCY} --seconds ${SECONDS} --customers ${CUSTOMERS}`,
);
console.table(rows);
agent.destroy();
