// Parity checks per second for one workspace of N customers (default 10,000), each with a Stripe subscription
// (active, trialing, past_due in and out of grace, canceled: 16:1:1:1:1), app-reported access and Stripe entitlements, on the
// database of DATABASE_URL (or the embedded test server). Three passes, in process, every statement counted:
//   cold   — checkCustomers('all') on a workspace with no incidents yet (opens one per finding);
//   steady — the same again (findings fold into the live incidents; clean customers cost no incident query);
//   event  — every customer marked due, then claimed and checked in batches as the event checker does.
//   DATABASE_URL=postgres://… node --import tsx bench/parity-checks.ts [--customers N]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { Db, Queryable } from '../src/db/port.js';
import { saveParityPolicy } from '../src/db/queries/parity-settings.js';
import { insertWorkspace } from '../src/db/queries/workspaces.js';
import { newId } from '../src/lib/ids.js';
import { createContext } from '../src/services/create-context.js';
import { claimCustomersDue } from '../src/services/parity/claim-due-checks.js';
import { checkCustomers } from '../src/services/parity/run-checks.js';
import { createTestStore, openMigrated } from '../test/helpers/db.js';

const { values } = parseArgs({ options: { customers: { type: 'string', default: '10000' } } });
const N = Math.max(100, Math.min(Number(values.customers), 200_000));

const bySql = new Map<string, { n: number; ms: number }>();

function counting(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const wrap = (q: Queryable): Queryable => ({
    query: async (sql, params) => {
      n += 1;
      if (!process.env.BENCH_SQL) return q.query(sql, params);
      const t = performance.now();
      try {
        return await q.query(sql, params);
      } finally {
        const key = sql.replace(/\s+/g, ' ').slice(0, 80);
        const e = bySql.get(key) ?? { n: 0, ms: 0 };
        e.n += 1;
        e.ms += performance.now() - t;
        bySql.set(key, e);
      }
    },
    exec: (sql) => ((n += 1), q.exec(sql)),
  });
  return {
    db: {
      ...db,
      ...wrap(db),
      kind: db.kind,
      transaction: (fn) => ((n += 2), db.transaction((tx) => fn(wrap(tx)))),
      ping: () => db.ping(),
      close: () => db.close(),
    },
    count: () => n,
  };
}

async function seed(db: Db, ws: string): Promise<void> {
  const day = 86_400;
  const now = Math.floor(Date.now() / 1000);
  // Set-based: the customers, one subscription each (statuses by i % 10), access for most of them.
  await db.query(
    `INSERT INTO customers (id, workspace_id, provider, provider_id, email)
     SELECT 'cus_b' || lpad(i::text, 7, '0'), $1, 'stripe', 'cus_S' || i, 'c' || i || '@example.com' FROM generate_series(1, $2) i`,
    [ws, N],
  );
  await db.query(
    `INSERT INTO subscriptions (id, workspace_id, provider, provider_id, customer_id, status, items, current_period_start,
       current_period_end, trial_end)
     SELECT 'sub_b' || i, $1, 'stripe', 'sub_S' || i, 'cus_b' || lpad(i::text, 7, '0'),
       CASE i % 20 WHEN 16 THEN 'trialing' WHEN 17 THEN 'past_due' WHEN 18 THEN 'past_due' WHEN 19 THEN 'canceled' ELSE 'active' END,
       jsonb_build_array(jsonb_build_object('price', CASE WHEN i % 3 = 0 THEN 'price_basic' ELSE 'price_pro' END,
         'product', CASE WHEN i % 3 = 0 THEN 'prod_basic' ELSE 'prod_pro' END)),
       to_timestamp($3 - CASE WHEN i % 20 = 18 THEN 20 ELSE 2 END * $4), to_timestamp($3 + 28 * $4), to_timestamp($3 + 5 * $4)
     FROM generate_series(1, $2) i`,
    [ws, N, now, day],
  );
  // App access to `pro` for the pro customers but 1 in 50, none for the canceled; Stripe entitlements for half. About
  // one customer in twelve has a finding (missing access, unpaid access after a failed renewal's grace).
  await db.query(
    `INSERT INTO access (id, workspace_id, provider, provider_id, customer_id, resource, status, granted_at)
     SELECT 'acc_a' || i, $1, 'app', 'cus_b' || lpad(i::text, 7, '0') || ':pro', 'cus_b' || lpad(i::text, 7, '0'), 'pro', 'active', now()
     FROM generate_series(1, $2) i WHERE i % 3 <> 0 AND i % 50 <> 0 AND i % 20 <> 19`,
    [ws, N],
  );
  await db.query(
    `INSERT INTO access (id, workspace_id, provider, provider_id, customer_id, resource, status, granted_at)
     SELECT 'acc_e' || i, $1, 'stripe', 'cus_S' || i || ':feature_x', 'cus_b' || lpad(i::text, 7, '0'), 'feature_x', 'active', now()
     FROM generate_series(1, $2) i WHERE i % 2 = 0 AND i % 20 <> 19`,
    [ws, N],
  );
  await db.query('ANALYZE');
}

const store = await createTestStore();
const raw = await openMigrated(store);
try {
  const ws = newId('ws');
  await insertWorkspace(raw, { id: ws, name: 'bench', demo: false });
  await saveParityPolicy(raw, ws, {
    accessMap: [
      { match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] },
      { match: { product: 'prod_basic' }, key: 'basic', sources: [] },
    ],
  });
  const seedStarted = performance.now();
  await seed(raw, ws);
  const seedMs = performance.now() - seedStarted;
  const { db, count } = counting(raw);
  const ctx = createContext(loadConfig({}, { port: 0, dataDir: store.dataDir, logLevel: 'silent' }), {
    db,
    masterKey: 'x'.repeat(44),
    log: pino({ level: 'silent' }),
  });
  const rows: Record<string, unknown>[] = [];
  const measure = async (pass: string, fn: () => Promise<{ checked: number; findings: number }>) => {
    const q0 = count();
    const t0 = performance.now();
    const r = await fn();
    const ms = performance.now() - t0;
    rows.push({
      pass,
      customers: r.checked,
      findings: r.findings,
      seconds: +(ms / 1000).toFixed(2),
      'checks/s': Math.round(r.checked / (ms / 1000)),
      'round trips/customer': +((count() - q0) / r.checked).toFixed(3),
    });
  };
  const total = (s: { byKind: Record<string, number | undefined> }) => Object.values(s.byKind).reduce<number>((n, v) => n + (v ?? 0), 0);
  for (const pass of ['cold', 'steady']) {
    await measure(pass, async () => {
      const s = await checkCustomers(ctx, { workspaceId: ws, customerIds: 'all', trigger: 'manual' });
      if (pass === 'cold') console.log(s.byKind);
      return { checked: s.checked, findings: total(s) };
    });
  }
  await raw.query(`UPDATE customers SET check_due_at = now() - interval '1 second' WHERE workspace_id = $1`, [ws]);
  await measure('event', async () => {
    let checked = 0;
    let findings = 0;
    for (;;) {
      const lease = new Date(Date.now() + 60_000);
      const due = await claimCustomersDue(ctx, { leaseUntil: lease, limit: 500 });
      if (due.size === 0) break;
      for (const [workspaceId, customerIds] of due) {
        const s = await checkCustomers(ctx, { workspaceId, customerIds, trigger: 'event', claimedUntil: lease });
        checked += s.checked;
        findings += total(s);
      }
    }
    return { checked, findings };
  });
  console.log(
    `${N} customers seeded in ${(seedMs / 1000).toFixed(1)} s on ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'the embedded server'}`,
  );
  console.table(rows);
  if (process.env.BENCH_SQL)
    console.table(
      [...bySql]
        .sort((a, b) => b[1].ms - a[1].ms)
        .slice(0, 12)
        .map(([sql, e]) => ({ sql, n: e.n, ms: Math.round(e.ms) })),
    );
} finally {
  await raw.close();
  await store.drop();
}
