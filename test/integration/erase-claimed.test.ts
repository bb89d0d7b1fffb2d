// Erasure racing the event worker: an event about the person that a worker has claimed (its payload read) but not
// yet projected must not write the erased values back after the erasure committed. The erasure drops the claim;
// the worker finds it gone and writes nothing, and the event is processed again from its redacted payload.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { claimEvents } from '../../src/services/processing/claim-events.js';
import { processBatch } from '../../src/services/processing/process-batch.js';
import { eraseCustomer } from '../../src/services/crm/erase-customer.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_erase_claimed_secret';
const NEW_EMAIL = 'eve.newaddress@example.net';

describe('erasure of a customer whose event is claimed but not yet projected', () => {
  let app: TestApp;
  let ws: string;
  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Erase claimed' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  });
  after(async () => {
    await app.close();
  });

  async function send(type: string, object: Record<string, unknown>): Promise<void> {
    const payload = stripeEvent(type, object);
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
  }
  const found = async (value: string) =>
    (
      await app.db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM customers WHERE workspace_id = $1 AND email ILIKE $2)
              + (SELECT count(*) FROM messages WHERE workspace_id = $1 AND data::text ILIKE $2)
              + (SELECT count(*) FROM events WHERE workspace_id = $1 AND (payload::text ILIKE $2 OR raw_body ILIKE $2)) AS n`,
        [ws, `%${value}%`],
      )
    ).rows[0]!.n;

  test('the claimed event does not bring the erased email back; it is processed from its redacted payload', async () => {
    await send('customer.created', { id: 'cus_eve', object: 'customer', email: 'eve@example.com', name: 'Eve Example' });
    const first = await claimEvents(app.ctx, 'worker-a', 10);
    assert.equal(first.length, 1);
    await processBatch(app.ctx, 'worker-a', first);

    // The change of address arrives and a worker claims it: its payload, with the new email, is in the worker's hand.
    await send('customer.updated', { id: 'cus_eve', object: 'customer', email: NEW_EMAIL, name: 'Eve Example' });
    const claimed = await claimEvents(app.ctx, 'worker-b', 10);
    assert.equal(claimed.length, 1);

    // The person asks to be erased before the worker projects the event.
    const cus = (await app.db.query<{ id: string }>(`SELECT id FROM customers WHERE workspace_id = $1 AND provider_id = 'cus_eve'`, [ws]))
      .rows[0]!;
    await eraseCustomer(app.ctx, { workspaceId: ws, customerId: cus.id, erase: true, requestedBy: 'test' });
    assert.equal(await found(NEW_EMAIL), 0);

    // The worker goes on with what it read before the erasure.
    const outcome = await processBatch(app.ctx, 'worker-b', claimed);
    assert.equal(await found(NEW_EMAIL), 0, 'the erased email was written back by a claim made before the erasure');
    assert.equal(outcome.get(claimed[0]!.id), 'lost');

    // The event is not lost: the next claim processes it from its redacted payload.
    const again = await claimEvents(app.ctx, 'worker-c', 10);
    assert.deepEqual(
      again.map((e) => e.id),
      [claimed[0]!.id],
    );
    assert.equal((await processBatch(app.ctx, 'worker-c', again)).get(claimed[0]!.id), 'processed');
    assert.equal(await found(NEW_EMAIL), 0);
    const row = (await app.db.query<{ email: string | null }>(`SELECT email FROM customers WHERE id = $1`, [cus.id])).rows[0]!;
    assert.equal(row.email, null);
  });
});
