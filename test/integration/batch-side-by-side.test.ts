// A claimed batch runs its events side by side (events about the same customer, payment intent, invoice or charge
// one after the other) and joins their CRM object writes into one statement per table. What it writes must be what
// running the same events one by one writes; the keys it groups by must be the keys the claim serialises on; and an
// event refused inside a joined statement must still fail alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../../src/db/port.js';
import { claimDueEvents } from '../../src/db/queries/events.js';
import type { Ctx } from '../../src/services/context.js';
import { processBatch } from '../../src/services/processing/process-batch.js';
import { processEvent } from '../../src/services/processing/process-event.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe } from '../helpers/stripe.js';

const SECRET = 'whsec_side_by_side_secret';
const JOINED = /^\s*WITH input AS MATERIALIZED/;
// Columns that differ between two runs of the same events: row ids and the times of the runs (a customer's next
// parity check is due a fixed time after the run that changed it).
const VARYING = new Set(['id', 'workspace_id', 'customer_id', 'person_id', 'created_at', 'updated_at', 'check_due_at', 'next_check_at']);

describe('a batch side by side', () => {
  let app: TestApp;

  // Side-by-side events share the transaction's connection: node-postgres warns (and pg 9 throws) when a client
  // is called while it runs a query, so the transaction must queue its statements itself (db/postgres.ts).
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);

  before(async () => {
    process.on('warning', onWarning);
    app = await startTestApp({ worker: false, config: { processingRetrySchedule: [60] } });
  });
  after(async () => {
    process.off('warning', onWarning);
    await app.close();
    assert.deepEqual(
      warnings.filter((w) => /already executing a query/.test(w)),
      [],
    );
  });

  async function workspace(name: string): Promise<string> {
    const id = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    await app.api('PUT', `/api/v1/workspaces/${id}/connections/stripe`, { webhookSecrets: [SECRET] });
    return id;
  }

  async function send(ws: string, payload: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(payload);
    assert.equal((await postStripe(app.url, ws, body, signStripe(body, SECRET))).status, 200);
  }

  /** A context whose transactions count the joined object writes they run. */
  function counting(ctx: Ctx): { ctx: Ctx; joined: () => number } {
    let joined = 0;
    const db = ctx.db;
    const wrapped: Ctx['db'] = Object.create(db);
    wrapped.transaction = (fn) =>
      db.transaction((tx) => {
        const counted: Queryable = Object.create(tx);
        counted.query = (sql, params) => {
          if (JOINED.test(sql)) joined++;
          return tx.query(sql, params);
        };
        return fn(counted);
      });
    return { ctx: { ...ctx, db: wrapped }, joined: () => joined };
  }

  // Events of 12 customers, several about one customer (customer, subscription created then updated in the same
  // second and a later one, invoice paid and its charge), products, and an invoice payment that names no customer.
  function events(): Record<string, unknown>[] {
    const t = 1_790_000_000;
    const out: Record<string, unknown>[] = [];
    const ev = (n: string, type: string, created: number, object: Record<string, unknown>) =>
      out.push({ id: `evt_sbs_${n}`, object: 'event', created, type, data: { object }, livemode: false, api_version: '2026-10-28.endive' });
    for (let c = 0; c < 12; c++) {
      const cus = `cus_sbs_${c}`;
      const sub = `sub_sbs_${c}`;
      ev(`${c}_c`, 'customer.created', t, { id: cus, object: 'customer', email: `p${c}@example.com`, name: `Person ${c}` });
      const subscription = (status: string, quantity: number) => ({
        id: sub,
        object: 'subscription',
        customer: cus,
        status,
        quantity,
        cancel_at_period_end: false,
        items: {
          object: 'list',
          data: [{ id: `si_${c}`, price: { id: `price_sbs_${c % 3}`, object: 'price', product: `prod_sbs_${c % 3}` } }],
        },
      });
      ev(`${c}_s1`, 'customer.subscription.created', t, subscription('incomplete', 1));
      ev(`${c}_s2`, 'customer.subscription.updated', t, subscription('active', 1));
      ev(`${c}_s3`, 'customer.subscription.updated', t + 5, subscription('active', 2 + c));
      if (c % 4 === 0) {
        // One payment, two events: one payment.succeeded between them.
        ev(`${c}_i`, 'invoice.paid', t + 6, { id: `in_sbs_${c}`, object: 'invoice', customer: cus, status: 'paid', amount_paid: 900 });
        ev(`${c}_ch`, 'charge.succeeded', t + 6, {
          id: `ch_sbs_${c}`,
          object: 'charge',
          customer: cus,
          invoice: `in_sbs_${c}`,
          payment_intent: `pi_sbs_${c}`,
          status: 'succeeded',
          amount: 900,
        });
      }
    }
    ev('p1', 'product.updated', t + 7, { id: 'prod_sbs_1', object: 'product', name: 'Monthly', active: true });
    ev('ip', 'invoice_payment.paid', t + 8, {
      id: 'inpay_sbs',
      object: 'invoice_payment',
      invoice: 'in_sbs_0',
      status: 'paid',
      payment: { type: 'payment_intent', payment_intent: 'pi_sbs_0' },
    });
    return out;
  }

  /** The CRM rows and messages of a workspace, without what differs between two runs (row ids, times). */
  async function outcome(ws: string) {
    const rows: Record<string, unknown[]> = {};
    for (const table of ['customers', 'products', 'prices', 'subscriptions', 'invoices', 'payments']) {
      const { rows: r } = await app.db.query(`SELECT * FROM ${table} WHERE workspace_id = $1 ORDER BY provider_id`, [ws]);
      rows[table] = r.map((row) => {
        const kept: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(row)) {
          if (VARYING.has(k)) continue;
          kept[k] = v;
        }
        return kept;
      });
    }
    const { rows: messages } = await app.db.query<{ type: string; dedupe_key: string }>(
      `SELECT type, dedupe_key FROM messages WHERE workspace_id = $1 AND type NOT LIKE 'stripe.%' ORDER BY dedupe_key, type`,
      [ws],
    );
    // Both ways a raw message refers to its event's payload (no copy); its data is what readers see.
    const { rows: raw } = await app.db.query<{
      source_event_id: string;
      type: string;
      data: { id: string; data: unknown };
      refers: boolean;
    }>(
      `SELECT v.source_event_id, v.type, v.data, m.data IS NULL AND m.data_event_id IS NOT NULL AS refers
       FROM messages_with_data v JOIN messages m ON m.id = v.id
       WHERE v.workspace_id = $1 AND v.type LIKE 'stripe.%' ORDER BY v.source_event_id`,
      [ws],
    );
    const { rows: timeline } = await app.db.query<{ provider_id: string; n: number }>(
      `SELECT c.provider_id, count(*)::int AS n FROM customer_events ce JOIN customers c ON c.id = ce.customer_id
       WHERE c.workspace_id = $1 GROUP BY 1 ORDER BY 1`,
      [ws],
    );
    return { rows, messages, raw, timeline };
  }

  test('writes what running the events one by one writes, in fewer statements than events', async () => {
    const sideBySide = await workspace('side by side');
    const oneByOne = await workspace('one by one');
    const list = events();

    for (const e of list) await send(sideBySide, e);
    const batch = await claimDueEvents(app.db, 'wrk_sbs', 500, 60);
    assert.equal(batch.length, list.length, 'one claim, one batch');
    const { ctx, joined } = counting(app.ctx);
    const outcomes = await processBatch(ctx, 'wrk_sbs', batch);
    assert.deepEqual(new Set(outcomes.values()), new Set(['processed']));
    assert.ok(joined() > 0 && joined() < list.length / 4, `${joined()} joined statements for ${list.length} events`);

    for (const e of list) await send(oneByOne, e);
    const each = await claimDueEvents(app.db, 'wrk_one', 500, 60);
    assert.equal(each.length, list.length);
    for (const e of each) assert.equal(await processEvent(app.ctx, 'wrk_one', e), 'processed');

    const a = await outcome(sideBySide);
    const b = await outcome(oneByOne);
    assert.deepEqual(a, b);
    // What the comparison stands on: the later version won, and each payment was published once.
    const subs = a.rows.subscriptions as { provider_id: string; status: string; quantity: number }[];
    assert.equal(subs.length, 12);
    for (const s of subs) assert.equal(s.quantity, 2 + Number(s.provider_id.split('_')[2]));
    assert.equal(a.messages.filter((m) => m.type === 'payment.succeeded').length, 3);
    assert.equal(a.raw.length, list.length);
    for (const m of a.raw) {
      assert.equal(m.data.id, m.source_event_id, 'a raw message carries its own event');
      assert.ok(m.refers, 'by reference, not as a copy');
      assert.equal(m.type, `stripe.${String(list.find((e) => e.id === m.source_event_id)!.type)}`);
    }
  });

  test('events of different customers join one write; without their keys, a batch runs one event after the other', async () => {
    for (const keyed of [true, false]) {
      const ws = await workspace(keyed ? 'keyed' : 'unkeyed');
      for (let n = 0; n < 6; n++) {
        await send(ws, {
          id: `evt_join_${n}`,
          object: 'event',
          created: 1_790_000_300,
          type: 'customer.created',
          data: { object: { id: `cus_join_${n}`, object: 'customer', email: `j${n}@example.com` } },
        });
      }
      const batch = await claimDueEvents(app.db, 'wrk_join', 50, 60);
      assert.equal(batch.length, 6);
      if (!keyed) for (const e of batch) delete e.serialKeys;
      const { ctx, joined } = counting(app.ctx);
      const outcomes = await processBatch(ctx, 'wrk_join', batch);
      assert.deepEqual(new Set(outcomes.values()), new Set(['processed']));
      assert.equal(joined(), keyed ? 1 : 6, keyed ? 'six customers, one statement' : 'one statement per event');
    }
  });

  test('a value refused inside a joined write fails only the event that carries it', async () => {
    const ws = await workspace('refused');
    const sub = (n: number, quantity: number) => ({
      id: `evt_ref_${n}`,
      object: 'event',
      created: 1_790_000_100,
      type: 'customer.subscription.created',
      data: { object: { id: `sub_ref_${n}`, object: 'subscription', customer: `cus_ref_${n}`, status: 'active', quantity } },
    });
    // quantity is an int column: 99,999,999,999 is out of its range.
    const list = [sub(1, 1), sub(2, 99_999_999_999), sub(3, 3), sub(4, 4)];
    for (const e of list) await send(ws, e);
    const batch = await claimDueEvents(app.db, 'wrk_ref', 50, 60);
    assert.equal(batch.length, 4);
    const outcomes = await processBatch(app.ctx, 'wrk_ref', batch);
    const byEvent = new Map(batch.map((e) => [e.providerEventId, outcomes.get(e.id)]));
    assert.deepEqual(Object.fromEntries(byEvent), {
      evt_ref_1: 'processed',
      evt_ref_2: 'failed',
      evt_ref_3: 'processed',
      evt_ref_4: 'processed',
    });
    const { rows } = await app.db.query<{ provider_id: string; quantity: number }>(
      'SELECT provider_id, quantity FROM subscriptions WHERE workspace_id = $1 ORDER BY provider_id',
      [ws],
    );
    assert.deepEqual(rows, [
      { provider_id: 'sub_ref_1', quantity: 1 },
      { provider_id: 'sub_ref_3', quantity: 3 },
      { provider_id: 'sub_ref_4', quantity: 4 },
    ]);
  });

  test('a claim returns the keys it serialises on, which the batch groups by', async () => {
    const ws = await workspace('keys');
    const ev = (n: number, type: string, object: Record<string, unknown>) => ({
      id: `evt_keys_${n}`,
      object: 'event',
      created: 1_790_000_200,
      type,
      data: { object },
    });
    await send(
      ws,
      ev(1, 'charge.succeeded', { id: 'ch_k', object: 'charge', customer: { id: 'cus_k' }, payment_intent: 'pi_k', invoice: 'in_k' }),
    );
    await send(
      ws,
      ev(2, 'invoice_payment.paid', {
        id: 'inpay_k',
        object: 'invoice_payment',
        invoice: 'in_k',
        payment: { payment_intent: { id: 'pi_k' } },
      }),
    );
    await send(ws, ev(3, 'product.updated', { id: 'prod_k', object: 'product' }));
    const claimed = await claimDueEvents(app.db, 'wrk_keys', 50, 60);
    assert.deepEqual(Object.fromEntries(claimed.map((e) => [e.providerEventId, e.serialKeys])), {
      evt_keys_1: [`${ws}:cus_k`, `${ws}:pi:pi_k`, `${ws}:in:in_k`, `${ws}:ch:ch_k`],
      evt_keys_2: [`${ws}:inpay_k`, `${ws}:pi:pi_k`, `${ws}:in:in_k`],
      evt_keys_3: [`${ws}:prod_k`],
    });
    const outcomes = await processBatch(app.ctx, 'wrk_keys', claimed);
    assert.deepEqual(new Set(outcomes.values()), new Set(['processed']));
  });
});
