// A processed batch wakes the delivery sender (and the workflow worker) only when it created something for them to
// claim: a delivery to an enabled endpoint, or a workflow trigger. A workspace that keeps only its CRM, or whose
// endpoints are paused, used to wake the sender after every batch, and each wake cost an empty claim (a transaction
// of four statements) in both processes while events were being processed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { claimDueEvents } from '../../src/db/queries/events.js';
import { processBatch } from '../../src/services/processing/process-batch.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe } from '../helpers/stripe.js';

const SECRET = 'whsec_batch_wakes_secret';

describe('what a processed batch wakes', () => {
  let app: TestApp;
  let serial = 0;

  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(async () => {
    await app.close();
  });

  async function workspace(name: string): Promise<string> {
    const id = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    await app.api('PUT', `/api/v1/workspaces/${id}/connections/stripe`, { webhookSecrets: [SECRET] });
    return id;
  }

  /** Sends `n` customer events to the workspace, then processes them as one claimed batch; resolves to the number
   *  of wake-ups the batch asked for. */
  async function batchOf(ws: string, n: number): Promise<number> {
    for (let i = 0; i < n; i++) {
      serial += 1;
      const body = JSON.stringify({
        id: `evt_wake_${serial}`,
        object: 'event',
        created: 1_790_000_000 + serial,
        type: 'customer.created',
        data: { object: { id: `cus_wake_${serial}`, object: 'customer', email: `p${serial}@example.com` } },
        livemode: false,
        api_version: '2026-10-28.endive',
      });
      assert.equal((await postStripe(app.url, ws, body, signStripe(body, SECRET))).status, 200);
    }
    const batch = await claimDueEvents(app.db, 'wrk_wake', 100, 60);
    assert.equal(batch.length, n);
    let wakes = 0;
    const outcomes = await processBatch({ ...app.ctx, onDeliveriesQueued: () => (wakes += 1) }, 'wrk_wake', batch);
    assert.deepEqual(new Set(outcomes.values()), new Set(['processed']));
    return wakes;
  }

  const count = async (sql: string, ws: string) => (await app.db.query<{ n: number }>(sql, [ws])).rows[0]!.n;

  test('no endpoint and no workflow: messages are stored, nobody is woken', async () => {
    const ws = await workspace('CRM only');
    assert.equal(await batchOf(ws, 3), 0);
    assert.ok((await count('SELECT count(*)::int AS n FROM messages WHERE workspace_id = $1', ws)) >= 3, 'the messages are there');
  });

  test('a paused endpoint: its deliveries wait, nobody is woken; enabled, the next batch wakes the sender', async () => {
    const ws = await workspace('Paused');
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/hook' });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    assert.equal((await app.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${ep.body.id}`, { state: 'paused' })).status, 200);
    assert.equal(await batchOf(ws, 2), 0);
    const waiting = await count(`SELECT count(*)::int AS n FROM deliveries WHERE workspace_id = $1 AND status = 'pending'`, ws);
    assert.ok(waiting >= 2, `${waiting} deliveries wait for the paused endpoint`);

    assert.equal((await app.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${ep.body.id}`, { state: 'enabled' })).status, 200);
    assert.equal(await batchOf(ws, 2), 1, 'one wake-up for the batch');
  });

  test('an enabled workflow and no endpoint: the batch wakes the workflow worker', async () => {
    const ws = await workspace('Workflow');
    const wf = await app.api('POST', `/api/v1/workspaces/${ws}/workflows`, {
      name: 'Remember the contact',
      enabled: true,
      trigger: { source: 'stripe', object: 'customer', actions: ['created'] },
      steps: [{ id: 'remember', kind: 'crm.set', attributes: { contact: '{{ customer.email }}' } }],
    });
    assert.equal(wf.status, 201, JSON.stringify(wf.body));
    assert.equal(await batchOf(ws, 2), 1);
    assert.ok((await count('SELECT count(*)::int AS n FROM workflow_triggers WHERE workspace_id = $1', ws)) >= 2);
  });
});
