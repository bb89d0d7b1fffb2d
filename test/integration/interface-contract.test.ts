// Promises of INTERFACE.md that a contract check found broken: the fields a list row carries and the paging
// every list takes (`?limit=`, `?cursor=`, `{data, nextCursor}`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_interface_contract_secret';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('INTERFACE.md list rows and paging', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK } });
  });
  after(() => app.close());

  test('a subscription row carries priceId (and planName), as the contract lists them', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'subscription row' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const payload = stripeEvent('customer.subscription.created', {
      id: 'sub_contract',
      object: 'subscription',
      customer: 'cus_contract',
      status: 'active',
      cancel_at_period_end: false,
      current_period_start: 1_790_000_000,
      current_period_end: 1_790_000_000 + 30 * 86400,
      items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }] },
    });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    const [row] = await waitFor(async () => {
      const rows = (await app.api('GET', `/api/v1/workspaces/${ws}/subscriptions`)).body.data;
      return rows.length > 0 ? rows : undefined;
    }, 'the subscription row');
    assert.equal(row.providerId, 'sub_contract');
    assert.equal(row.priceId, 'price_gold');
    assert.ok('planName' in row);
    const detail = (await app.api('GET', `/api/v1/workspaces/${ws}/customers/cus_contract`)).body;
    assert.equal(detail.subscriptions[0].priceId, 'price_gold', 'the customer detail shows the same row');
  });

  test('the Piano forwards list takes ?limit= and ?cursor= like every list', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'forwards paging' })).body.id;
    const put = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, {
      aid: 'AIDcontract1',
      privateKey: 'contractcontractcontractcontract0123456789',
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const created: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await app.api('POST', `/api/v1/workspaces/${ws}/connections/piano/forwards`, { url: `http://127.0.0.1:9/f${n}` });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      created.push(res.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: any } = await app.api(
        'GET',
        `/api/v1/workspaces/${ws}/connections/piano/forwards?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.data.length <= 2);
      seen.push(...res.body.data.map((f: any) => f.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    assert.deepEqual([...seen].sort(), [...created].sort());
    const bad = await app.api('GET', `/api/v1/workspaces/${ws}/connections/piano/forwards?limit=501`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
  });
});
