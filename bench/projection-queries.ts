// Round trips per projected event: the same lifecycle workload (6 Stripe events per customer, interleaved)
// projected one event per transaction (processEvent) and in claimed batches (processBatch), in process, with
// every statement counted. A machine-independent figure: each round trip costs a context switch on both sides
// and is what bounds the projection rate on a small machine. Also prints the wall time per event.
//   DATABASE_URL=postgres://… node --import tsx bench/projection-queries.ts [--customers N] [--batch B]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { Db, Queryable } from '../src/db/port.js';
import { claimDueEvents, insertEvent } from '../src/db/queries/events.js';
import { insertWorkspace } from '../src/db/queries/workspaces.js';
import { newId } from '../src/lib/ids.js';
import { createContext } from '../src/services/create-context.js';
import { processBatch } from '../src/services/processing/process-batch.js';
import { processEvent } from '../src/services/processing/process-event.js';
import { createTestStore, openMigrated } from '../test/helpers/db.js';

const { values } = parseArgs({ options: { customers: { type: 'string', default: '100' }, batch: { type: 'string', default: '20' } } });
const CUSTOMERS = Math.min(Number(values.customers), 2000);
const BATCH = Math.min(Number(values.batch), 1000);

function lifecycle(k: string, t: number): { type: string; object: Record<string, unknown>; created: number }[] {
  const cus = `cus_${k}`;
  const sub = `sub_${k}`;
  const items = {
    object: 'list',
    data: [{ id: `si_${k}`, price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }],
  };
  const subscription = (status: string) => ({
    id: sub,
    object: 'subscription',
    customer: cus,
    status,
    cancel_at_period_end: false,
    current_period_start: t,
    current_period_end: t + 2_592_000,
    trial_start: t,
    trial_end: t + 604_800,
    items,
  });
  return [
    {
      type: 'customer.created',
      created: t,
      object: { id: cus, object: 'customer', email: `${k}@example.com`, name: `Customer ${k}`, metadata: {} },
    },
    { type: 'customer.subscription.created', created: t + 1, object: subscription('trialing') },
    { type: 'customer.subscription.updated', created: t + 2, object: subscription('active') },
    {
      type: 'invoice.paid',
      created: t + 3,
      object: {
        id: `in_${k}`,
        object: 'invoice',
        customer: cus,
        status: 'paid',
        billing_reason: 'subscription_create',
        amount_due: 900,
        amount_paid: 900,
        currency: 'eur',
        parent: { subscription_details: { subscription: sub } },
      },
    },
    {
      type: 'payment_intent.succeeded',
      created: t + 3,
      object: { id: `pi_${k}`, object: 'payment_intent', customer: cus, status: 'succeeded', amount: 900, currency: 'eur' },
    },
    {
      type: 'charge.succeeded',
      created: t + 3,
      object: {
        id: `ch_${k}`,
        object: 'charge',
        customer: cus,
        status: 'succeeded',
        amount: 900,
        amount_refunded: 0,
        currency: 'eur',
        payment_intent: `pi_${k}`,
        invoice: `in_${k}`,
      },
    },
  ];
}

const bySql = new Map<string, number>();

function counting(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      n += 1;
      if (process.env.BENCH_SQL) {
        const key = sql.replace(/\s+/g, ' ').slice(0, 90);
        bySql.set(key, (bySql.get(key) ?? 0) + 1);
      }
      return q.query(sql, params);
    },
    exec: (sql) => ((n += 1), q.exec(sql)),
  });
  return {
    db: {
      ...db,
      ...wrap(db),
      kind: db.kind,
      // BEGIN and COMMIT are a round trip each.
      transaction: (fn) => ((n += 2), db.transaction((tx) => fn(wrap(tx)))),
      ping: () => db.ping(),
      close: () => db.close(),
    },
    count: () => n,
  };
}

async function run(mode: 'single' | 'batch') {
  const store = await createTestStore();
  const raw = await openMigrated(store);
  try {
    const ws = newId('ws');
    await insertWorkspace(raw, { id: ws, name: 'bench', demo: false });
    const t = Math.floor(Date.now() / 1000);
    const per = Array.from({ length: CUSTOMERS }, (_, i) => lifecycle(`q${i}`, t));
    let seq = 0;
    for (let step = 0; step < 6; step++) {
      for (const l of per) {
        const e = l[step]!;
        seq += 1;
        const payload = {
          id: `evt_q_${seq}`,
          object: 'event',
          created: e.created,
          type: e.type,
          livemode: false,
          data: { object: e.object },
        };
        await insertEvent(raw, {
          id: newId('ev'),
          workspaceId: ws,
          provider: 'stripe',
          providerEventId: payload.id,
          type: e.type,
          livemode: false,
          providerCreatedAt: new Date(e.created * 1000),
          payload,
          rawBody: JSON.stringify(payload),
          status: 'received',
          error: null,
        });
      }
    }
    const { db, count } = counting(raw);
    const config = loadConfig({}, { port: 0, dataDir: store.dataDir, logLevel: 'silent' });
    const ctx = createContext(config, {
      db,
      masterKey: 'x'.repeat(44),
      log: pino({ level: 'silent' }),
      publicUrl: () => '',
      onEventStored: () => undefined,
      onDeliveriesQueued: () => undefined,
    });
    const started = performance.now();
    let done = 0;
    let claimMs = 0;
    let claims = 0;
    for (;;) {
      const claimStarted = performance.now();
      const batch = await claimDueEvents(raw, 'wrk_bench', BATCH, 60);
      claimMs += performance.now() - claimStarted;
      claims += 1;
      if (batch.length === 0) break;
      if (mode === 'batch') await processBatch(ctx, 'wrk_bench', batch);
      else for (const e of batch) await processEvent(ctx, 'wrk_bench', e);
      done += batch.length;
    }
    const ms = performance.now() - started;
    const failed = (await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE status <> 'processed'`)).rows[0]!.n;
    return {
      mode,
      events: done,
      notProcessed: failed,
      'round trips/event': +(count() / done).toFixed(2),
      'ms/event (1 worker)': +(ms / done).toFixed(3),
      'claim ms/batch': +(claimMs / claims).toFixed(2),
    };
  } finally {
    await raw.close();
    await store.drop();
  }
}

console.table([await run('single'), await run('batch')]);
if (process.env.BENCH_SQL) console.table([...bySql].sort((a, b) => b[1] - a[1]).map(([sql, n]) => ({ sql, n })));
