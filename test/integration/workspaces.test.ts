// Workspaces renamed and deleted: deletion erases every row of the workspace, only with the admin token and
// a confirmation, and leaves other workspaces untouched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore, type TestStore } from '../helpers/db.js';
import { runSluice } from '../helpers/sluice-process.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_workspaces_test_secret';

/** Rows per table that mention the workspace id in any column: what a deletion must leave at zero. */
async function rowsMentioning(app: TestApp, text: string): Promise<Record<string, number>> {
  const { rows: cols } = await app.db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND data_type IN ('text', 'jsonb', 'ARRAY')`,
  );
  const found: Record<string, number> = {};
  for (const c of cols) {
    const { rows } = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${c.table_name}" WHERE "${c.column_name}"::text LIKE $1`,
      [`%${text}%`],
    );
    if (rows[0]!.n > 0) found[`${c.table_name}.${c.column_name}`] = rows[0]!.n;
  }
  return found;
}

describe('workspaces: rename and delete', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  async function populated(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'ci' })).status, 201);
    const payload = stripeEvent('customer.created', { id: `cus_${name}`, email: `${name}@example.com` });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    await waitFor(async () => (await app.api('GET', `/api/v1/workspaces/${ws}/customers`)).body.data.length === 1, 'the customer');
    return ws;
  }

  test('PATCH renames and switches demo mode; the id and webhook URLs stay', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Before' })).body;
    const res = await app.api('PATCH', `/api/v1/workspaces/${ws.id}`, { name: 'After', demo: true });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'After');
    assert.equal(res.body.demo, true);
    assert.deepEqual(res.body.webhookUrls, ws.webhookUrls);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws.id}`)).body.name, 'After');
  });

  test('PATCH refuses empty, NUL-bearing, unknown and missing fields with 400, changing nothing', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Keep' })).body.id;
    for (const body of [{}, { name: '' }, { name: 'a\u0000b' }, { name: 'x', color: 'red' }, { demo: 'yes' }]) {
      const res = await app.api('PATCH', `/api/v1/workspaces/${ws}`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    }
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`)).body.name, 'Keep');
    assert.equal((await app.api('PATCH', '/api/v1/workspaces/ws_missing', { name: 'x' })).status, 404);
  });

  test('DELETE without confirmation is 400 CONFIRMATION_REQUIRED and erases nothing', async () => {
    const ws = await populated('unconfirmed');
    for (const path of [`/api/v1/workspaces/${ws}`, `/api/v1/workspaces/${ws}?confirm=ws_other`]) {
      const res = await app.api('DELETE', path);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'CONFIRMATION_REQUIRED');
      assert.match(res.body.error.message, new RegExp(`confirm=${ws}`));
    }
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers`)).body.data.length, 1);
  });

  test('DELETE needs the admin token: a workspace admin key is refused', async () => {
    const ws = await populated('keyed');
    const key = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'admin' })).body.key;
    const res = await app.api('DELETE', `/api/v1/workspaces/${ws}?confirm=${ws}`, undefined, key);
    assert.equal(res.status, 403);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`)).status, 200);
  });

  test('DELETE with confirmation erases every row of the workspace and nothing of another', async () => {
    const doomed = await populated('doomed');
    const kept = await populated('kept');
    const endpoint = await app.api('POST', `/api/v1/workspaces/${doomed}/events`, { type: 'course.enrolled', data: { n: 1 } });
    assert.equal(endpoint.status, 201);
    assert.ok(Object.keys(await rowsMentioning(app, doomed)).length > 0, 'the workspace has data before');

    const res = await app.api('DELETE', `/api/v1/workspaces/${doomed}`, { confirm: doomed });
    assert.equal(res.status, 200);
    assert.equal(res.body.deleted, true);
    assert.equal(res.body.erased.events, 1);
    assert.equal(res.body.erased.customers, 1);
    assert.ok(res.body.erased.messages >= 2);

    assert.deepEqual(await rowsMentioning(app, doomed), {});
    assert.deepEqual(await rowsMentioning(app, 'doomed@example.com'), {});
    assert.equal((await app.api('GET', `/api/v1/workspaces/${doomed}`)).status, 404);
    const payload = stripeEvent('customer.updated', { id: 'cus_doomed' });
    assert.equal((await postStripe(app.url, doomed, payload, signStripe(payload, SECRET))).status, 404);
    assert.equal((await app.api('DELETE', `/api/v1/workspaces/${doomed}?confirm=${doomed}`)).status, 404);

    assert.equal((await app.api('GET', `/api/v1/workspaces/${kept}/customers`)).body.data[0].email, 'kept@example.com');
    assert.equal((await app.api('GET', `/api/v1/workspaces/${kept}/api-keys`)).body.data.length, 1);
  });
});

describe('sluice workspace rename|delete', () => {
  let store: TestStore;
  before(async () => {
    store = await createTestStore();
  });
  after(() => store.drop());

  test('rename, then delete only with --confirm repeating the id', async () => {
    assert.equal((await runSluice(['migrate'], store.env)).code, 0);
    const created = await runSluice(['workspace', 'create', '--name', 'Old name', '--json'], store.env);
    const ws = JSON.parse(created.stdout).id as string;
    const renamed = await runSluice(['workspace', 'rename', ws, '--name', 'New name'], store.env);
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.match(renamed.stdout, new RegExp(`Renamed ${ws} to New name`));

    const refused = await runSluice(['workspace', 'delete', ws], store.env);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /confirm/);
    assert.match((await runSluice(['workspace', 'list'], store.env)).stdout, /New name/);

    const deleted = await runSluice(['workspace', 'delete', ws, '--confirm', ws], store.env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`Deleted ${ws}`));
    assert.doesNotMatch((await runSluice(['workspace', 'list'], store.env)).stdout, /New name/);
  });
});
