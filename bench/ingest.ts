// Ingest load: N signed Stripe events from C concurrent keep-alive clients against a real `sluice start`
// (compiled dist/) on PGlite and on PostgreSQL; prints acked throughput, answer latency percentiles, time
// until every event is processed, and the server's peak RSS. Loopback only, bounded in count and time.
//   npm run build && node --import tsx bench/ingest.ts [--db pglite|postgres|both] [--events N] [--concurrency C]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import Stripe from 'stripe';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'both' },
    events: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '20' },
  },
});
const N = Math.min(Number(values.events), 100_000);
const C = Math.min(Number(values.concurrency), 200);
const TOKEN = `bench_admin_${randomBytes(12).toString('hex')}`;
const SECRET = 'whsec_bench_secret';
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const stripe = new Stripe('sk_test_unused');
const agent = new http.Agent({ keepAlive: true, maxSockets: C });

function request(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
const api = async (base: string, method: string, p: string, body?: unknown) =>
  JSON.parse(
    (
      await request(`${base}/api/v1${p}`, method, body === undefined ? undefined : JSON.stringify(body), {
        authorization: `Bearer ${TOKEN}`,
      })
    ).body,
  );

function subscriptionEvent(n: number): string {
  const now = Math.floor(Date.now() / 1000);
  return JSON.stringify({
    id: `evt_bench_${n}_${randomBytes(4).toString('hex')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: now,
    type: 'customer.subscription.updated',
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: {
      object: {
        id: `sub_bench_${n % 500}`,
        object: 'subscription',
        customer: `cus_bench_${n % 500}`,
        status: n % 7 === 0 ? 'past_due' : 'active',
        cancel_at_period_end: false,
        current_period_start: now,
        current_period_end: now + 2_592_000,
        metadata: { plan: 'gold', note: 'x'.repeat(1500) },
        items: {
          object: 'list',
          data: [
            {
              id: `si_${n}`,
              price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold', unit_amount: 900, currency: 'eur' },
              quantity: 1,
            },
          ],
        },
      },
      previous_attributes: { status: 'trialing' },
    },
  });
}

const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function run(db: 'pglite' | 'postgres') {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SLUICE_DATA_DIR: dataDir,
    SLUICE_ADMIN_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
  };
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  if (db === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    env.DATABASE_URL = u.toString();
  }
  const proc = spawn(process.execPath, ['bin/sluice.js', 'start', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const guard = setTimeout(() => proc.kill('SIGKILL'), 300_000); // the whole run is bounded
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"sluice started"/.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.on('exit', (code) => reject(new Error(`sluice exited with ${code}: ${out}`)));
    });
    const ws = (await api(base, 'POST', '/workspaces', { name: 'bench' })).id;
    await api(base, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const bodies = Array.from({ length: N }, (_, i) => subscriptionEvent(i));
    const latencies: number[] = [];
    let next = 0;
    let errors = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: C }, async () => {
        while (next < N) {
          const body = bodies[next++]!;
          const t = performance.now();
          const res = await request(`${base}/webhooks/stripe/${ws}`, 'POST', body, {
            'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }),
          }).catch(() => ({ status: 0, body: '' }));
          latencies.push(performance.now() - t);
          if (res.status !== 200) errors += 1;
        }
      }),
    );
    const ingestSeconds = (performance.now() - start) / 1000;
    let processed = 0;
    let meanLag: number | null = null;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const stripeHealth = (await api(base, 'GET', `/workspaces/${ws}/health`)).providers.stripe;
      const counts = stripeHealth.counts;
      processed = counts.processed + counts.failed + counts.ignored;
      meanLag = stripeHealth.lag.recentMeanSeconds;
      if (processed >= N - errors) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const drainSeconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const rss = peakRss(proc.pid!);
    return {
      db,
      events: N,
      concurrency: C,
      'acked/s': Math.round((N - errors) / ingestSeconds),
      'p50 ms': +pct(latencies, 50).toFixed(1),
      'p95 ms': +pct(latencies, 95).toFixed(1),
      'p99 ms': +pct(latencies, 99).toFixed(1),
      'max ms': +latencies[latencies.length - 1]!.toFixed(1),
      'all processed s': +drainSeconds.toFixed(2),
      'processed/s': Math.round(processed / drainSeconds),
      // mean time from receipt to CRM row over the run (the health view's 5-minute window)
      'mean lag s': meanLag,
      'peak RSS MB': Math.round(rss),
      'non-200': errors,
    };
  } finally {
    clearTimeout(guard);
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
    if (db === 'postgres') {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  }
}

const dbs = values.db === 'both' ? (['pglite', 'postgres'] as const) : [values.db as 'pglite' | 'postgres'];
const rows = [];
for (const db of dbs) rows.push(await run(db));
console.table(rows);
agent.destroy();
