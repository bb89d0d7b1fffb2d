// The outbound queue's SQL alone, without HTTP: PROF_DELIVERIES (8,000) deliveries over 4 endpoints, claimed 64 at a
// time and recorded as succeeded, one after the other on one connection; prints the time of the claims and of the
// records (their locks included) per delivery. PROF_EXPLAIN=1 prints EXPLAIN (ANALYZE, BUFFERS) of a claim half-way.
// A fresh database on the server of DATABASE_URL (required), dropped at the end. Bounded; nothing leaves the machine.
import { claimDueDeliveries, lockDeliveriesForRecord, recordAttempts, type ClaimedDelivery } from '../../src/db/queries/deliveries.js';
import { createTestStore, openMigrated, watchingTransactions } from '../../test/helpers/db.js';

const N = Number(process.env.PROF_DELIVERIES ?? 8000);
const store = await createTestStore();
const db = await openMigrated(store);
await db.exec(`
  INSERT INTO workspaces (id, name) VALUES ('ws', 'queue');
  INSERT INTO endpoints (id, workspace_id, url, secrets_sealed)
  SELECT 'ep' || e, 'ws', 'https://example.com/' || e, 'x' FROM generate_series(1, 4) e;
  INSERT INTO messages (id, workspace_id, type, data, dedupe_key)
  SELECT 'msg' || g, 'ws', 'queue.tick', '{}', 'k' || g FROM generate_series(1, ${N}) g;
  INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id)
  SELECT 'dl' || lpad(g::text, 7, '0'), 'ws', 'ep' || (1 + g % 4), 'msg' || g FROM generate_series(1, ${N}) g;
  ANALYZE;`);

// The claim's statement and parameters, as the last claim sent them (for PROF_EXPLAIN).
const { db: watching, last: lastClaim } = watchingTransactions(db, 'WITH candidates');

const succeeded = (d: ClaimedDelivery, n: number) => ({
  id: `att${n}`,
  deliveryId: d.id,
  endpointId: d.endpointId,
  startedAt: new Date(),
  durationMs: 1,
  statusCode: 200,
  responseExcerpt: null,
  error: null,
  outcome: 'succeeded' as const,
  retryInSeconds: null,
});

let claimMs = 0;
let recordMs = 0;
let done = 0;
let explained = !process.env.PROF_EXPLAIN;
const started = performance.now();
try {
  while (done < N) {
    let t = performance.now();
    const got = await claimDueDeliveries(watching, { workerId: 'w1', limit: 64, perEndpoint: 20, leaseSeconds: 60 });
    claimMs += performance.now() - t;
    if (got.length === 0) break;
    t = performance.now();
    await db.transaction(async (tx) => {
      await lockDeliveriesForRecord(tx, 'w1', got, { waitForMessages: false });
      await recordAttempts(
        tx,
        'w1',
        got.map((d, i) => succeeded(d, done + i)),
        { succeeded: [], failing: [] },
      );
    });
    recordMs += performance.now() - t;
    done += got.length;
    if (!explained && done >= N / 2 && lastClaim()) {
      explained = true;
      const claim = lastClaim()!;
      await db
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${claim.sql}`, claim.params);
          console.log(rows.map((r) => r['QUERY PLAN']).join('\n'));
          throw new Error('rolled back'); // EXPLAIN ANALYZE ran the claim: undo it
        })
        .catch((err: Error) => {
          if (err.message !== 'rolled back') throw err;
        });
    }
  }
  const perDelivery = (ms: number) => ((ms * 1000) / done).toFixed(1);
  console.log(
    `${done} deliveries: claim ${perDelivery(claimMs)} µs, record ${perDelivery(recordMs)} µs a delivery; ` +
      `${Math.round((done / (performance.now() - started)) * 1000)}/s`,
  );
} finally {
  await db.close();
  await store.drop();
}
