// Bench-only: fills a workspace with a realistic week of history, set-based (INSERT … SELECT FROM
// generate_series), for bench/console-pages.ts. Events spread evenly over the last 7 days up to a minute ago
// (Stripe and Piano, a dozen types, processed with a lag of tens to hundreds of milliseconds, ~3 % ignored for
// want of a handler, 1 % failed), customers and their timeline links, messages, a delivery per message and
// endpoint with its attempt (97 % succeeded), refused webhooks by reason and one open incident. Nothing is
// left waiting ('received' or 'pending'), so the server's workers stay idle while pages are timed.

/** A plain connection (pg.Client): statements run without the app's statement timeout, and VACUUM is allowed. */
export interface SeedConnection {
  query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }>;
}

// Same encoding as src/lib/ids.ts (Crockford base32 of the milliseconds, 10 characters), in SQL, so seeded
// ids sort by their time exactly like real ones.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const encodeTimeSql = (ms: string) =>
  Array.from({ length: 10 }, (_, i) => `substr('${ALPHABET}', (((${ms}) >> ${5 * (9 - i)}) & 31)::int + 1, 1)`).join(' || ');
const idSql = (prefix: string, ms: string, salt: string) => `'${prefix}_' || ${encodeTimeSql(ms)} || substr(md5(${salt}), 1, 14)`;

const STRIPE_TYPES = [
  ...Array<string>(6).fill('customer.subscription.updated'),
  ...Array<string>(3).fill('invoice.paid'),
  ...Array<string>(3).fill('payment_intent.succeeded'),
  ...Array<string>(3).fill('charge.succeeded'),
  ...Array<string>(2).fill('customer.updated'),
  'customer.created',
  'customer.subscription.created',
  'checkout.session.completed',
  'invoice.payment_failed',
  'radar.early_fraud_warning.created',
];
const PIANO_TYPES = ['access_granted', 'access_granted', 'access_revoked', 'new_purchase', 'user_updated'];
const UNHANDLED = ['radar.early_fraud_warning.created', 'user_updated'];
const MESSAGE_TYPES = ['subscription.updated', 'payment.succeeded', 'invoice.paid', 'customer.updated', 'access.granted'];
const sqlArray = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]`;

export interface SeedCounts {
  events: number;
  customers: number;
  customerEvents: number;
  messages: number;
  deliveries: number;
  attempts: number;
}

const DAY_MS = 86_400_000;
const CHUNK = 250_000;

/** Seeds `n` events (and the rest, in proportion) into an existing workspace with `endpointIds` already made. */
export async function seedConsoleHistory(
  db: SeedConnection,
  o: { workspaceId: string; endpointIds: string[]; events: number; days?: number; log?: (s: string) => void },
): Promise<SeedCounts> {
  const log = o.log ?? (() => {});
  const ws = o.workspaceId.replace(/'/g, "''");
  const days = o.days ?? 7;
  const endMs = Date.now() - 60_000;
  const startMs = endMs - days * DAY_MS;
  const stepMs = (endMs - startMs) / o.events;
  const customers = Math.max(100, Math.floor(o.events / 50));
  const t0 = performance.now();

  // Events, in chunks (each one statement).
  for (let from = 1; from <= o.events; from += CHUNK) {
    const to = Math.min(o.events, from + CHUNK - 1);
    await db.query(
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, livemode, provider_created_at, payload, raw_body,
                           status, attempts, next_attempt_at, error, received_at, processed_at)
       SELECT id, '${ws}', provider, peid, type, false, ts, payload, payload::text, status, 1, ts,
              CASE WHEN status = 'failed' THEN 'seeded failure: no such price' END, ts,
              CASE WHEN status = 'processed' THEN ts + make_interval(secs => 0.02 + r4 * r4 * 0.6) END
       FROM (
         SELECT *, CASE WHEN type = ANY(${sqlArray(UNHANDLED)}) THEN 'ignored' WHEN r3 < 0.01 THEN 'failed' ELSE 'processed' END AS status,
                jsonb_build_object('id', peid, 'object', 'event', 'type', type, 'created', floor(extract(epoch FROM ts)),
                  'data', jsonb_build_object('object', jsonb_build_object('id', 'obj_' || (n % 200000), 'customer', 'cus_seed_' || (n % ${customers}),
                    'status', 'active', 'amount', (n % 5000) * 100, 'currency', 'eur'))) AS payload
         FROM (
           SELECT n, ms, ${idSql('ev', 'ms', 'n::text')} AS id, p AS provider, 'evt_seed_' || lpad(n::text, 9, '0') AS peid,
                  to_timestamp(ms / 1000.0) AS ts, r3, r4,
                  CASE WHEN p = 'piano' THEN (${sqlArray(PIANO_TYPES)})[1 + floor(r2 * ${PIANO_TYPES.length})::int]
                       ELSE (${sqlArray(STRIPE_TYPES)})[1 + floor(r2 * ${STRIPE_TYPES.length})::int] END AS type
           FROM (
             SELECT n, (${startMs}::bigint + floor(n * ${stepMs})::bigint) AS ms, random() AS r2, random() AS r3, random() AS r4,
                    CASE WHEN random() < 0.15 THEN 'piano' ELSE 'stripe' END AS p
             FROM generate_series(${from}::bigint, ${to}::bigint) n
           ) a
         ) b
       ) e`,
    );
    log(`events ${to.toLocaleString('en')} / ${o.events.toLocaleString('en')} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }

  // Customers (Stripe, a few named like the search probe) and the timeline of every 10th event.
  await db.query(
    `INSERT INTO customers (id, workspace_id, provider, provider_id, email, name, created_at, updated_at)
     SELECT ${idSql('cus', `(${startMs}::bigint + i * ${Math.floor((endMs - startMs) / customers)}::bigint)`, "'c' || i")}, '${ws}', 'stripe',
            'cus_seed_' || i, 'customer' || i || '@example.test', 'Customer ' || i, now() - interval '7 days', now()
     FROM generate_series(0, ${customers - 1}) i`,
  );
  // Event n names customer n % C and both ids are functions of their numbers: the links are computed, not joined.
  const cStep = Math.floor((endMs - startMs) / customers);
  const { rowCount: customerEvents } = await db.query(
    `INSERT INTO customer_events (customer_id, event_id)
     SELECT ${idSql('cus', `(${startMs}::bigint + (n % ${customers}) * ${cStep}::bigint)`, "'c' || (n % " + customers + ')')},
            ${idSql('ev', `(${startMs}::bigint + floor(n * ${stepMs})::bigint)`, 'n::text')}
     FROM generate_series(10, ${o.events}, 10) n
     ON CONFLICT DO NOTHING`,
  );
  log(`customers ${customers.toLocaleString('en')}, timeline links ${(customerEvents ?? 0).toLocaleString('en')}`);

  // Messages (one per 10 events), one delivery per message and endpoint, one attempt per delivery.
  const messages = Math.floor(o.events / 10);
  const mStep = (endMs - startMs) / Math.max(1, messages);
  await db.query(
    `INSERT INTO messages (id, workspace_id, type, data, source_provider, dedupe_key, created_at)
     SELECT ${idSql('msg', 'ms', "'m' || i")}, '${ws}', (${sqlArray(MESSAGE_TYPES)})[1 + (i % ${MESSAGE_TYPES.length})],
            jsonb_build_object('customer', 'cus_seed_' || (i % ${customers}), 'amount', (i % 500) * 100), 'stripe', 'seed:' || i, to_timestamp(ms / 1000.0)
     FROM (SELECT i, (${startMs}::bigint + floor(i * ${mStep})::bigint) AS ms FROM generate_series(1, ${messages}) i) m`,
  );
  let deliveries = 0;
  for (const [k, ep] of o.endpointIds.entries()) {
    const r = await db.query(
      `INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, status, attempts, next_attempt_at, last_status_code, created_at, finished_at)
       SELECT ${idSql('dlv', `(floor(extract(epoch FROM m.created_at) * 1000)::bigint + ${k})`, `m.id || '${k}'`)}, $1, $2, m.id,
              CASE WHEN random() < 0.97 THEN 'succeeded' ELSE 'failed' END, 1, m.created_at, 200, m.created_at, m.created_at + interval '80 milliseconds'
       FROM messages m WHERE m.workspace_id = $1`,
      [o.workspaceId, ep],
    );
    deliveries += r.rowCount ?? 0;
  }
  const { rowCount: attempts } = await db.query(
    `INSERT INTO delivery_attempts (id, delivery_id, endpoint_id, started_at, duration_ms, status_code, response_excerpt, outcome)
     SELECT ${idSql('att', 'floor(extract(epoch FROM d.created_at) * 1000)::bigint', "d.id || 'a'")}, d.id, d.endpoint_id,
            d.created_at + interval '20 milliseconds', 30 + (abs(hashtext(d.id)) % 200),
            CASE WHEN d.status = 'succeeded' THEN 200 ELSE 500 END, 'ok', CASE WHEN d.status = 'succeeded' THEN 'succeeded' ELSE 'failed' END
     FROM deliveries d WHERE d.workspace_id = $1`,
    [o.workspaceId],
  );
  await db.query(`UPDATE deliveries SET last_status_code = 500, last_error = 'HTTP 500' WHERE workspace_id = $1 AND status = 'failed'`, [
    o.workspaceId,
  ]);
  await db.query(`UPDATE endpoints SET last_success_at = now() WHERE workspace_id = $1`, [o.workspaceId]);
  log(
    `messages ${messages.toLocaleString('en')}, deliveries ${deliveries.toLocaleString('en')}, attempts ${(attempts ?? 0).toLocaleString('en')}`,
  );

  // Refused webhooks by reason, and an open incident.
  await db.query(
    `INSERT INTO inbound_rejections (workspace_id, provider, reason, count, first_at, last_at) VALUES
       ($1, 'stripe', 'signature_mismatch', 412, now() - interval '6 days', now() - interval '3 hours'),
       ($1, 'stripe', 'timestamp_outside_tolerance', 9, now() - interval '5 days', now() - interval '2 days'),
       ($1, 'piano', 'hmac_mismatch', 31, now() - interval '4 days', now() - interval '20 minutes')
     ON CONFLICT DO NOTHING`,
    [o.workspaceId],
  );
  if (o.endpointIds[0]) {
    await db.query(
      `INSERT INTO incidents (id, workspace_id, endpoint_id, kind, detail, opened_at)
       VALUES ('inc_seed_' || md5(random()::text), $1, $2, 'endpoint_failing', 'the endpoint answered 500 for 2 hours (seeded)', now() - interval '2 hours')`,
      [o.workspaceId, o.endpointIds[0]],
    );
  }
  for (const t of ['events', 'customers', 'customer_events', 'messages', 'deliveries', 'delivery_attempts'])
    await db.query(`VACUUM ANALYZE ${t}`);
  log(`seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return { events: o.events, customers, customerEvents: customerEvents ?? 0, messages, deliveries, attempts: attempts ?? 0 };
}
