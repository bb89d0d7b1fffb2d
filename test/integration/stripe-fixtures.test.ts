// Real Stripe event bodies from ../shared/fixtures/stripe, read in place (never copied into this repo),
// signed with the official SDK and posted byte for byte.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe } from '../helpers/stripe.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/stripe/', import.meta.url));
const SECRET = 'whsec_fixture_secret';
const present = existsSync(`${FIXTURES}manifest.json`);

describe('shared Stripe fixtures', { skip: present ? false : `no fixtures at ${FIXTURES} (../shared is absent)` }, () => {
  let app: TestApp;
  let ws: string;
  const manifest: { file: string; type: string; event_id: string }[] = present
    ? JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8'))
    : [];

  before(async () => {
    app = await startTestApp();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Fixtures' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  });
  after(() => app.close());

  test('every fixture is accepted, stored once per event id, and processed', async () => {
    const ids = new Set<string>();
    for (const entry of manifest) {
      const raw = readFileSync(`${FIXTURES}${entry.file}`); // exact bytes
      const res = await postStripe(app.url, ws, raw, signStripe(raw.toString('utf8'), SECRET));
      assert.equal(res.status, 200, `${entry.file}: ${JSON.stringify(res.body)}`);
      // Upstream captures reuse event ids: the second body with an id is a duplicate by definition.
      assert.equal(res.body.duplicate === true, ids.has(entry.event_id), `${entry.file} duplicate flag`);
      ids.add(entry.event_id);
    }
    const events = await waitFor(async () => {
      const list = (await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=500`)).body.data;
      return list.every((e: any) => e.status === 'processed' || e.status === 'ignored') && list;
    }, 'all fixtures settled');
    assert.equal(events.length, ids.size);
    assert.deepEqual(
      events.filter((e: any) => e.status !== 'processed').map((e: any) => e.type),
      [],
      'every fixture type is a handled type',
    );
  });

  test('fixtures land in the CRM tables, in both payload generations', async () => {
    const list = async (what: string) => (await app.api('GET', `/api/v1/workspaces/${ws}/${what}?limit=500`)).body.data;
    const customers = await list('customers');
    assert.ok(
      customers.some((c: any) => c.providerId === 'cus_IhGfebO16cMIGN'),
      'the captured customer',
    );
    const subscriptions = await list('subscriptions');
    assert.ok(subscriptions.length >= 2);
    // 2020 captures carry the period on the subscription, 2026 ones on the items: both fill the column.
    for (const s of subscriptions) assert.ok(s.currentPeriodEnd, `${s.providerId} has a period end`);
    const invoices = await list('invoices');
    assert.ok(invoices.length >= 2);
    for (const i of invoices) assert.ok(i.subscriptionProviderId, `${i.providerId} is linked to its subscription`);
    const payments = await list('payments');
    assert.ok(payments.some((p: any) => p.kind === 'charge') && payments.some((p: any) => p.kind === 'payment_intent'));
    assert.ok((await list('products')).length >= 1);
    assert.ok((await list('prices')).length >= 1);
    assert.ok((await list('access')).some((a: any) => a.status === 'active'));
  });
});
