// Erasure and workflows: a workflow run keeps what it was started with (the event, the customer) and what its steps
// took and gave (inputs, outputs, answers, errors), and a crm.set step writes the customer's attributes. After
// the person is erased, none of it may still hold their email or name.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_erase_workflows_secret';
const EMAIL = 'Grace.Hopper@example.com';
const NAME = 'Grace Hopper';

/** Every text or json column of every table that holds one of the values: `table.column` → rows. */
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

describe('erasure of a customer a workflow ran for', () => {
  let app: TestApp;
  let ws: string;
  before(async () => {
    app = await startTestApp();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Erase workflows' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const wf = await app.api('POST', `/api/v1/workspaces/${ws}/workflows`, {
      name: 'Remember the contact',
      enabled: true,
      trigger: { source: 'stripe', object: 'customer', actions: ['created'] },
      steps: [{ id: 'remember', kind: 'crm.set', attributes: { contact: '{{ customer.email }}', who: '{{ customer.name }}' } }],
    });
    assert.equal(wf.status, 201, JSON.stringify(wf.body));
  });
  after(async () => {
    await app.close();
  });

  test('the runs, their steps and the attributes they set hold nothing of the person', async () => {
    const payload = stripeEvent('customer.created', { id: 'cus_grace', object: 'customer', email: EMAIL, name: NAME });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM workflow_runs WHERE workspace_id = $1 AND status = 'succeeded'`,
        [ws],
      );
      return rows[0]!.n === 1;
    }, 'the workflow run');
    const before = await whereFound(app, [EMAIL, NAME]);
    assert.ok(before['workflow_runs.trigger_event'] && before['customers.attributes'], JSON.stringify(before));

    const cus = (await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_grace`)).body;
    const erased = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/${cus.id}?erase=true`);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.deepEqual(await whereFound(app, [EMAIL, NAME]), {});
  });
});
