// An event taken in whole is stored without a parsed payload (migrations 0030, 0031): its raw body is its payload, for
// good. Readers see the payload all along, the worker's finish writes no jsonb copy, a body jsonb refuses after all
// does not fail its batch, and the serial keys Node computes at ingest are the ones the claim would compute in SQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { payloadOf } from '../../src/db/queries/event-payload.js';
import { eventSerialKeys, serialKeysOf } from '../../src/db/queries/event-serial-keys.js';
import { claimEvents } from '../../src/services/processing/claim-events.js';
import { processBatch } from '../../src/services/processing/process-batch.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_event_payload_secret';

describe('payload parsed at processing', () => {
  let app: TestApp;
  let ws: string;

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Payload' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  });
  after(() => app.close());

  const row = async (providerEventId: string) =>
    (
      await app.db.query<{ id: string; payload: unknown; rawIsPayload: boolean; status: string; keys: string[] | null }>(
        `SELECT id, payload, raw_is_payload AS "rawIsPayload", status, serial_keys AS keys FROM events
         WHERE workspace_id = $1 AND provider_event_id = $2`,
        [ws, providerEventId],
      )
    ).rows[0]!;

  /** The payload as every reader in SQL resolves it. */
  const payloadRead = async (id: string) =>
    (await app.db.query<{ p: unknown }>(`SELECT ${payloadOf('events')} AS p FROM events WHERE id = $1`, [id])).rows[0]!.p;

  async function processAll(): Promise<void> {
    for (;;) {
      const batch = await claimEvents(app.ctx, 'test-worker', 100);
      if (batch.length === 0) return;
      await processBatch(app.ctx, 'test-worker', batch);
    }
  }

  test('the payload is read from the raw body, waiting and processed; the finish writes no copy', async () => {
    const body = stripeEvent('customer.subscription.updated', {
      id: 'sub_payload',
      object: 'subscription',
      customer: 'cus_payload',
      status: 'active',
      name: 'Zoë \u2603 "quoted"',
    });
    const sent = JSON.parse(body);
    assert.equal((await postStripe(app.url, ws, body, signStripe(body, SECRET))).status, 200);

    const waiting = await row(sent.id);
    assert.equal(waiting.status, 'received');
    assert.equal(waiting.rawIsPayload, true);
    assert.equal(waiting.payload, null, 'not parsed on the request path');
    assert.deepEqual(waiting.keys, [`${ws}:cus_payload`]);
    // Every reader resolves it meanwhile: the API's event detail, the console's, a replay's check.
    const detail = await app.api('GET', `/api/v1/workspaces/${ws}/events/${waiting.id}`);
    assert.deepEqual(detail.body.payload, sent);

    await processAll();
    const done = await row(sent.id);
    assert.equal(done.status, 'processed');
    assert.equal(done.rawIsPayload, true);
    assert.equal(done.payload, null, 'no jsonb copy');
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_payload`)).status, 200, 'projected from it');
    assert.deepEqual((await app.api('GET', `/api/v1/workspaces/${ws}/events/${waiting.id}`)).body.payload, sent, 'read once processed');
    // The raw message refers to the event and reads its payload.
    const { rows } = await app.db.query<{ data: unknown }>(
      `SELECT data FROM messages_with_data WHERE workspace_id = $1 AND type = 'stripe.customer.subscription.updated'`,
      [ws],
    );
    assert.deepEqual(rows[0]?.data, sent);
  });

  test('a body jsonb refuses after all ends without a payload, and the rest of its batch is finished', async () => {
    // JSON.parse reads 1e999999 as Infinity; jsonb's numeric cannot hold it. Written directly: ingest would not
    // take such a body this way.
    const good = JSON.parse(stripeEvent('customer.created', { id: 'cus_fine', object: 'customer' }));
    const bad = JSON.parse(stripeEvent('customer.created', { id: 'cus_huge', object: 'customer' }));
    const badBody = JSON.stringify(bad).replace('"object":"customer"}', '"object":"customer","balance":1e999999}');
    for (const [e, body] of [
      [good, JSON.stringify(good)],
      [bad, badBody],
    ] as const) {
      await app.db.query(
        `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_is_payload, raw_body, status)
         VALUES ($1, $2, 'stripe', $3, $4, NULL, true, $5, 'received')`,
        [`ev_${e.id}`, ws, e.id, e.type, body],
      );
    }
    await processAll();
    const fine = await row(good.id);
    assert.equal(fine.status, 'processed');
    assert.deepEqual(await payloadRead(fine.id), good);
    const huge = await row(bad.id);
    assert.notEqual(huge.status, 'received', 'its batch was finished');
    assert.equal(await payloadRead(huge.id), null, 'readers see no payload rather than an error');
  });

  test('the database refuses an event marked raw without its raw body, or with a payload beside it', async () => {
    await assert.rejects(
      app.db.query(
        `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, raw_is_payload, raw_body, status)
         VALUES ('ev_no_raw', $1, 'stripe', 'evt_no_raw', 't', true, NULL, 'received')`,
        [ws],
      ),
      /events_raw_is_payload/,
    );
    await assert.rejects(
      app.db.query(
        `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, raw_is_payload, raw_body, status)
         VALUES ('ev_done_no_raw', $1, 'stripe', 'evt_done_no_raw', 't', true, NULL, 'processed')`,
        [ws],
      ),
      /events_raw_is_payload/,
    );
    await assert.rejects(
      app.db.query(
        `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_is_payload, raw_body, status)
         VALUES ('ev_both', $1, 'stripe', 'evt_both', 't', '{}', true, '{}', 'processed')`,
        [ws],
      ),
      /events_raw_is_payload/,
    );
  });

  test('the serial keys Node computes at ingest are those the claim computes in SQL', async () => {
    const shapes: Record<string, unknown> = {
      'customer id': { data: { object: { id: 'sub_1', object: 'subscription', customer: 'cus_1' } } },
      'customer expanded': { data: { object: { id: 'sub_2', object: 'subscription', customer: { id: 'cus_2', object: 'customer' } } } },
      'the customer itself': { data: { object: { id: 'cus_3', object: 'customer' } } },
      'an invoice of a payment': {
        data: { object: { id: 'in_4', object: 'invoice', customer: 'cus_4', payment_intent: 'pi_4', charge: { id: 'ch_4' } } },
      },
      'a charge': { data: { object: { id: 'ch_5', object: 'charge', customer: null, payment_intent: { id: 'pi_5' }, invoice: 'in_5' } } },
      'a payment intent': { data: { object: { id: 'pi_6', object: 'payment_intent', customer: 'cus_6' } } },
      'an invoice payment': {
        data: { object: { id: 'inpay_7', object: 'invoice_payment', invoice: 'in_7', payment: { type: 'charge', charge: 'ch_7' } } },
      },
      'an invoice payment, expanded': {
        data: { object: { id: 'inpay_8', object: 'invoice_payment', invoice: 'in_8', payment: { payment_intent: { id: 'pi_8' } } } },
      },
      'a Piano event': { uid: 'piano_user_9', type: 'access_granted' },
      'no object': { id: 'evt_10', data: {} },
      'escapes and unicode': { data: { object: { id: 'sub_\u00e9\u2603', object: 'subscription', customer: 'cus_"x"\\y' } } },
      'no id in the expansion': { data: { object: { id: 'sub_12', object: 'subscription', customer: { object: 'customer' } } } },
      'a number where an id goes': { data: { object: { id: 'sub_13', object: 'subscription', customer: 42 } } },
      'an array where an id goes': { data: { object: { id: 'sub_14', object: 'subscription', invoice: ['in_14'] } } },
    };
    const leftToSql = ['no id in the expansion', 'a number where an id goes', 'an array where an id goes'];
    for (const [name, payload] of Object.entries(shapes)) {
      const sql = async (raw: boolean) =>
        (
          await app.db.query<{ keys: string[] }>(
            `SELECT ${eventSerialKeys('t')} AS keys FROM (
               SELECT $1::text AS workspace_id, CASE WHEN $3 THEN NULL ELSE $2::jsonb END AS payload, $3::boolean AS raw_is_payload,
                      $2::text AS raw_body, NULL::text[] AS serial_keys) t`,
            [ws, JSON.stringify(payload), raw],
          )
        ).rows[0]!.keys;
      const fromSql = await sql(false);
      assert.deepEqual(await sql(true), fromSql, `${name}: the same from the raw body`);
      const fromNode = serialKeysOf(ws, payload);
      if (leftToSql.includes(name)) assert.equal(fromNode, null, `${name}: left to SQL`);
      else assert.deepEqual(fromNode, fromSql, name);
    }
    // Stored keys win over the payload.
    const { rows } = await app.db.query<{ keys: string[] }>(
      `SELECT ${eventSerialKeys('t')} AS keys FROM (SELECT 'w' AS workspace_id, '{}'::jsonb AS payload, false AS raw_is_payload,
         NULL::text AS raw_body, ARRAY['stored'] AS serial_keys) t`,
    );
    assert.deepEqual(rows[0]!.keys, ['stored']);
  });
});
