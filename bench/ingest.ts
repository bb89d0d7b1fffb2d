// Ingest load: N webhooks from C concurrent keep-alive clients against a real `sluice start` (compiled dist/)
// on PGlite and on PostgreSQL: signed Stripe events (default) or encrypted Piano webhooks (GET ?data=, as
// Piano sends them). Prints acked throughput, answer latency percentiles, time until every event is
// processed, and the server's peak RSS. Loopback only, bounded in count and time.
//   npm run build && node --import tsx bench/ingest.ts [--provider stripe|piano] [--db embedded|postgres|both] [--events N] [--concurrency C]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { encryptPianoData } from '../src/inbound/piano/crypto.js';
import {
  agent,
  api,
  benchStore,
  createBenchWorkspace,
  pct,
  peakRssMb,
  postAll,
  request,
  sendAll,
  startServer,
  type BenchDb,
} from './lib.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'both' },
    events: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '20' },
    provider: { type: 'string', default: 'stripe' },
  },
});
const PROVIDER = values.provider === 'piano' ? 'piano' : 'stripe';
const PIANO_AID = 'BenchAid01';
const PIANO_KEY = 'BenchPianoPrivateKey0123456789abcdefghij';

/** An access_granted webhook for one of 500 readers, as Piano encrypts it (~600 characters of `data`). */
function pianoAccessEvent(n: number): string {
  const payload = {
    version: 2,
    type: 'access_granted',
    event: 'new_purchase',
    aid: PIANO_AID,
    uid: `reader_${n % 500}`,
    rid: 'RPREMIUM',
    term_id: 'TMBENCH',
    access_id: `acc_${n}`,
    user_email: `reader_${n % 500}@example.com`,
    expires: Math.floor(Date.now() / 1000) + 2_592_000 + n,
    contract_id: null,
    payment_id: `UP${n}`,
    conversion_id: null,
  };
  return encryptPianoData(JSON.stringify(payload), PIANO_KEY);
}
const N = Math.min(Number(values.events), 100_000);
const C = Math.min(Number(values.concurrency), 200);

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

async function run(db: BenchDb) {
  const store = await benchStore(db);
  const server = await startServer(store.env);
  try {
    const { base } = server;
    let ws: string;
    let bodies: string[];
    let send: (ws: string, bodies: string[]) => ReturnType<typeof postAll>;
    if (PROVIDER === 'piano') {
      ws = (await api(base, 'POST', '/workspaces', { name: 'bench' })).id as string;
      await api(base, 'PUT', `/workspaces/${ws}/connections/piano`, { aid: PIANO_AID, privateKey: PIANO_KEY });
      bodies = Array.from({ length: N }, (_, i) => pianoAccessEvent(i));
      send = (w, b) =>
        sendAll(b, C, async (data) => (await request(`${base}/webhooks/piano/${w}?data=${encodeURIComponent(data)}`, 'GET')).status);
    } else {
      ws = await createBenchWorkspace(base);
      bodies = Array.from({ length: N }, (_, i) => subscriptionEvent(i));
      send = (w, b) => postAll(base, w, b, C);
    }
    const start = performance.now();
    const { latencies, errors, seconds: ingestSeconds } = await send(ws, bodies);
    let processed = 0;
    let meanLag: number | null = null;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const providerHealth = (await api(base, 'GET', `/workspaces/${ws}/health`)).providers[PROVIDER];
      const counts = providerHealth.counts;
      processed = counts.processed + counts.failed + counts.ignored;
      meanLag = providerHealth.lag.recentMeanSeconds;
      if (processed >= N - errors) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const drainSeconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const rss = peakRssMb(server.proc.pid!);
    return {
      provider: PROVIDER,
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
    await server.stop();
    await store.drop();
  }
}

const dbs = values.db === 'both' ? (['embedded', 'postgres'] as const) : [values.db as 'embedded' | 'postgres'];
const rows = [];
for (const db of dbs) rows.push(await run(db));
console.table(rows);
agent.destroy();
