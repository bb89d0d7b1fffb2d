// Customer erasure: after DELETE …/customers/:id?erase=true the person's email, name, phone and address are
// nowhere in the workspace's data (every text and jsonb column is searched), a rebuild does not bring them
// back, other people are untouched, and the erasure is on record.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCidrs } from '../../src/lib/cidr.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { pianoData, sendPiano } from '../helpers/piano.js';
import { decryptPianoData } from '../../src/inbound/piano/crypto.js';

const SECRET = 'whsec_erase_test_secret';
const OLD_EMAIL = 'ada.byron@example.org';
const ADA = {
  email: 'Ada.Lovelace@example.com',
  name: 'Ada Lovelace',
  phone: '+441234567890',
  line1: '12 St James Square',
};

/** Every column of every table that holds one of the values, case-insensitively: `table.column` → rows. */
async function whereFound(app: TestApp, values: string[]): Promise<Record<string, number>> {
  const { rows: cols } = await app.db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND data_type IN ('text', 'jsonb', 'json', 'character varying', 'ARRAY')`,
  );
  const found: Record<string, number> = {};
  for (const c of cols) {
    const { rows } = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${c.table_name}" WHERE "${c.column_name}"::text ILIKE ANY($1::text[])`,
      [values.map((v) => `%${v}%`)],
    );
    if (rows[0]!.n > 0) found[`${c.table_name}.${c.column_name}`] = rows[0]!.n;
  }
  return found;
}

describe('customer erasure', () => {
  let app: TestApp;
  let receiver: Receiver;
  let ws: string;

  async function send(type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
    const payload = stripeEvent(type, object, extra);
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
  }

  before(async () => {
    // The receiver quotes what it got, so attempt excerpts hold the person's data too.
    receiver = await startReceiver((req) => ({ status: 200, body: req.body.slice(0, 2000) }));
    app = await startTestApp({ config: { outboundAllow: parseCidrs('127.0.0.0/8').cidrs, retrySchedule: [0, 0.2] } });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Erase' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/hook` })).status, 201);

    const address = { line1: ADA.line1, city: 'London', postal_code: 'SW1Y 4LG', country: 'GB' };
    await send('customer.created', {
      id: 'cus_ada',
      object: 'customer',
      email: ADA.email,
      name: ADA.name,
      phone: ADA.phone,
      address,
      metadata: { note: `call ${ADA.phone}` },
    });
    // An email the person had before, known only from the event that changed it.
    await send(
      'customer.updated',
      {},
      {
        data: {
          object: { id: 'cus_ada', object: 'customer', email: ADA.email, name: ADA.name },
          previous_attributes: { email: OLD_EMAIL },
        },
      },
    );
    await send('customer.created', { id: 'cus_bob', object: 'customer', email: 'bob@example.com', name: 'Bob Builder' });
    await send('checkout.session.completed', {
      id: 'cs_ada',
      object: 'checkout.session',
      customer: 'cus_ada',
      customer_details: { email: ADA.email, name: ADA.name, phone: ADA.phone, address },
      mode: 'payment',
      status: 'complete',
      payment_status: 'paid',
      amount_total: 1000,
      currency: 'gbp',
    });
    await send('invoice.paid', {
      id: 'in_ada',
      object: 'invoice',
      customer: 'cus_ada',
      customer_email: ADA.email,
      customer_name: ADA.name,
      customer_address: address,
      status: 'paid',
      amount_paid: 1000,
      amount_due: 1000,
      currency: 'gbp',
    });
    const custom = await app.api('POST', `/api/v1/workspaces/${ws}/events`, {
      type: 'course.enrolled',
      data: { student: ADA.email.toLowerCase(), course: 'math-101' },
    });
    assert.equal(custom.status, 201);
    await waitFor(async () => {
      const events = (await app.api('GET', `/api/v1/workspaces/${ws}/events`)).body.data;
      return events.length === 5 && events.every((e: any) => e.status !== 'received');
    }, 'every event processed');
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE workspace_id = $1 AND status = 'pending'`,
        [ws],
      );
      return rows[0]!.n === 0;
    }, 'every delivery attempted');
    // A Stripe event keeps its payload in its raw body (migration 0031); one processed before that has it in the
    // payload column as well. The invoice's event stands for such an event, so that the erasure covers both forms.
    const legacy = await app.db.query(
      `UPDATE events SET payload = raw_body::jsonb, raw_is_payload = false
       WHERE workspace_id = $1 AND type = 'invoice.paid' AND raw_is_payload`,
      [ws],
    );
    assert.equal(legacy.rowCount, 1);
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  test('without erase=true the answer is 400 saying so, and nothing changes', async () => {
    const res = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/cus_ada`);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'CONFIRMATION_REQUIRED');
    assert.match(res.body.error.message, /erase=true/);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_ada`)).body.email, ADA.email);
    assert.ok((await whereFound(app, [OLD_EMAIL]))['events.raw_body'], 'the old email is stored before the erasure');
    const before = await whereFound(app, [ADA.email]);
    for (const where of ['customers.email', 'events.payload', 'events.raw_body', 'messages.data', 'delivery_attempts.response_excerpt']) {
      assert.ok(before[where], `the test data reaches ${where} before the erasure (${JSON.stringify(before)})`);
    }
  });

  test('an unknown customer is 404 and no erasure is recorded', async () => {
    const res = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/cus_nobody?erase=true`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'CUSTOMER_NOT_FOUND');
  });

  test('erasure removes the person everywhere, keeps ids and other people, is audited, and survives a rebuild', async () => {
    const res = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/cus_ada?erase=true`);
    assert.equal(res.status, 200);
    assert.equal(res.body.requestedBy, 'admin');
    assert.deepEqual(res.body.providerIds, ['cus_ada']);
    assert.equal(res.body.counts.customers, 1);
    assert.ok(res.body.counts.events >= 3, JSON.stringify(res.body.counts));
    assert.ok(res.body.counts.messages >= 3, JSON.stringify(res.body.counts));
    assert.ok(res.body.counts.texts >= 1, JSON.stringify(res.body.counts));

    const personal = [ADA.email, ADA.name, ADA.phone, ADA.line1, OLD_EMAIL];
    assert.deepEqual(await whereFound(app, personal), {});

    const ada = (await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_ada`)).body;
    assert.equal(ada.email, null);
    assert.equal(ada.name, null);
    assert.equal(ada.id, res.body.customerIds[0]);
    assert.deepEqual(
      ada.invoices.map((i: any) => i.providerId),
      ['in_ada'],
    );
    const bob = (await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_bob`)).body;
    assert.equal(bob.email, 'bob@example.com');
    assert.equal(bob.name, 'Bob Builder');

    // The stored event keeps its shape and ids: still JSON, still about cus_ada, the personal values gone.
    const { rows } = await app.db.query<{ raw_body: string }>(
      `SELECT raw_body FROM events WHERE workspace_id = $1 AND type = 'customer.created' AND raw_body LIKE '%cus_ada%'`,
      [ws],
    );
    const raw = JSON.parse(rows[0]!.raw_body);
    assert.equal(raw.data.object.id, 'cus_ada');
    assert.equal(raw.data.object.email, null);
    assert.deepEqual(raw.data.object.address, { line1: null, city: null, postal_code: null, country: null });

    const log = await app.api('GET', `/api/v1/workspaces/${ws}/erasures`);
    assert.equal(log.status, 200);
    assert.equal(log.body.data.length, 1);
    assert.equal(log.body.data[0].id, res.body.id);
    assert.deepEqual(log.body.data[0].customerIds, res.body.customerIds);

    const rebuild = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: true });
    assert.equal(rebuild.status, 200);
    assert.deepEqual(await whereFound(app, personal), {});
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_ada`)).body.email, null);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_bob`)).body.email, 'bob@example.com');
  });

  test('a viewer or member key cannot erase', async () => {
    for (const role of ['viewer', 'member']) {
      const key = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role })).body.key;
      const res = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/cus_bob?erase=true`, undefined, key);
      assert.equal(res.status, 403, role);
    }
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_bob`)).body.email, 'bob@example.com');
  });
  test('an erasure that loses a deadlock to another transaction runs again and completes', async () => {
    // Another transaction (a retention batch, a projection) holds a message the erasure needs, then asks for an
    // event the erasure has locked: PostgreSQL aborts the erasure, which waited first, after deadlock_timeout.
    const { rows: events } = await app.db.query<{ id: string }>(
      `SELECT id FROM events WHERE workspace_id = $1 AND raw_body LIKE '%bob@example.com%'`,
      [ws],
    );
    const { rows: messages } = await app.db.query<{ id: string }>(
      `SELECT id FROM messages WHERE workspace_id = $1 AND (data::text LIKE '%bob@example.com%' OR data_event_id = ANY($2::text[]))`,
      [ws, events.map((e) => e.id)],
    );
    assert.ok(events.length > 0 && messages.length > 0, 'Bob is in an event and a message');
    let erasure: Promise<{ status: number; body: any }> | undefined;
    await app.db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM messages WHERE id = ANY($1::text[]) FOR UPDATE', [messages.map((m) => m.id)]);
      erasure = app.api('DELETE', `/api/v1/workspaces/${ws}/customers/cus_bob?erase=true`);
      await waitFor(async () => {
        const { rows } = await app.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM messages m LEFT JOIN events e%'`,
        );
        return rows[0]!.n > 0;
      }, 'the erasure holds the events and waits for the messages');
      // Succeeds only once the erasure's transaction is gone: it held this event.
      await tx.query('SELECT 1 FROM events WHERE id = ANY($1::text[]) FOR UPDATE', [events.map((e) => e.id)]);
    });
    const res = await erasure!;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_bob`)).body.email, null);
    assert.deepEqual(await whereFound(app, ['bob@example.com', 'Bob Builder']), {});
  });
});

describe('customer erasure across providers', () => {
  const KEY = 'PianoErasePrivateKey0123456789abcdefghij';
  const AID = 'AppErase01';
  const EMAIL = 'grace.hopper@example.com';
  let app: TestApp;

  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  test('erasing the Piano user erases the linked Stripe customer too; the Piano raw body still decrypts, without the data', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Two providers' })).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: AID, privateKey: KEY })).status, 200);
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const piano = {
      version: 2,
      aid: AID,
      uid: 'grace1',
      rid: 'RPREMIUM',
      access_id: 'ACCG',
      user_email: EMAIL,
      first_name: 'Grace',
      last_name: 'Hopper',
    };
    const sent = await sendPiano(
      app.url,
      ws,
      pianoData({ ...piano, type: 'access_granted', event: 'new_purchase', expires: 1_800_000_000 }, KEY),
    );
    assert.equal(sent.status, 200);
    const payload = stripeEvent('customer.created', { id: 'cus_grace', object: 'customer', email: EMAIL, name: 'Grace Hopper' });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    await waitFor(async () => {
      const c = (await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_grace`)).body;
      return c?.identities?.length === 2;
    }, 'the two identities linked as one person');

    const res = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/grace1?erase=true`);
    assert.equal(res.status, 200);
    assert.deepEqual([...res.body.providerIds].sort(), ['cus_grace', 'grace1']);
    assert.deepEqual(await whereFound(app, [EMAIL, 'Grace Hopper']), {});

    const { rows } = await app.db.query<{ raw_body: string }>(
      `SELECT raw_body FROM events WHERE workspace_id = $1 AND provider = 'piano'`,
      [ws],
    );
    const decrypted = decryptPianoData(rows[0]!.raw_body, KEY);
    assert.ok(decrypted.ok, 'the rewritten raw body decrypts with the workspace key');
    const event = JSON.parse(decrypted.plaintext);
    assert.equal(event.uid, 'grace1');
    assert.equal(event.access_id, 'ACCG');
    assert.equal(event.user_email, null);
    assert.equal(event.first_name, null);

    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: true })).status, 200);
    assert.deepEqual(await whereFound(app, [EMAIL, 'Grace Hopper']), {});
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/access`)).body.data.length, 1, 'the access row survives');
  });
});
