// Everything that calls Stripe's API through the official SDK, against a local stand-in of that API:
// same-second ties settled by refetching, managed webhook endpoints, and `sluice doctor`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { STRIPE_HANDLED_TYPES } from '../../src/crm/handlers.js';
import { stripeApiVersion } from '../../src/inbound/stripe/api.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { runSluice, startSluiceProcess } from '../helpers/sluice-process.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_stripe_api_test_secret';
const T0 = 1_790_500_000;

function subscription(status: string) {
  return {
    id: 'sub_tie',
    object: 'subscription',
    customer: 'cus_tie',
    status,
    cancel_at_period_end: false,
    current_period_start: T0,
    current_period_end: T0 + 30 * 86400,
    items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_tie', product: 'prod_tie' }, quantity: 1 }] },
  };
}

describe('Stripe API through the SDK (local stand-in)', () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  before(async () => {
    stripe = await startStripeApi();
    app = await startTestApp({ config: { stripeApiUrl: stripe.url } });
  });
  after(async () => {
    await app.close();
    await stripe.close();
  });

  const get = async (ws: string, path: string) => (await app.api('GET', `/api/v1/workspaces/${ws}${path}`)).body;
  async function workspace(name: string, connection: Record<string, unknown>): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, connection);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ws;
  }
  async function deliver(ws: string, payloads: string[], secret = SECRET): Promise<void> {
    for (const payload of payloads) {
      const res = await postStripe(app.url, ws, payload, signStripe(payload, secret));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitFor(async () => (await get(ws, '/events?status=received')).data.length === 0, 'processing');
  }

  describe('same-second ties', () => {
    // Two updates in one second. The rank rule alone would keep past_due (the later lifecycle stage); Stripe
    // says the subscription is active now, and that is what the CRM must hold, whatever the arrival order.
    const pastDue = stripeEvent('customer.subscription.updated', subscription('past_due'), { created: T0 + 10 });
    const active = stripeEvent('customer.subscription.updated', subscription('active'), { created: T0 + 10 });
    const created = stripeEvent('customer.subscription.created', subscription('incomplete'), { created: T0 });

    test('are settled by the object fetched from Stripe when the workspace has an API key', async () => {
      stripe.objects.set('sub_tie', { ...subscription('active'), object: 'subscription' });
      for (const order of [
        [created, pastDue, active],
        [created, active, pastDue],
      ]) {
        const ws = await workspace('tie with key', { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
        const before = stripe.requests.length;
        await deliver(ws, order);
        const [sub] = (await get(ws, '/subscriptions')).data;
        assert.equal(sub.status, 'active');
        const fetches = stripe.requests.slice(before).filter((r) => r.path === '/v1/subscriptions/sub_tie');
        assert.equal(fetches.length, 1, 'exactly one fetch: only the second event of the second ties');
        assert.equal(fetches[0]!.authorization, `Bearer ${stripe.apiKey}`);
        assert.equal(fetches[0]!.stripeVersion, await stripeApiVersion());
        assert.deepEqual((await get(ws, '/events?status=failed')).data, []);

        // A rebuild settles the tie with the stored snapshot, without calling Stripe again.
        const requestsBefore = stripe.requests.length;
        const rebuild = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: false });
        assert.equal(rebuild.status, 200);
        for (const t of Object.values(rebuild.body.tables) as any[]) assert.equal(t.added + t.changed + t.removed, 0);
        assert.equal(stripe.requests.length, requestsBefore);
      }
    });

    test('an event settled on its own (after a fetch) still marks its customer due for a parity check', async () => {
      stripe.objects.set('sub_tie', { ...subscription('active'), object: 'subscription' });
      const ws = await workspace('tie marks due', { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
      await deliver(ws, [created, pastDue]);
      // As if the check of those two had run: only the tie below can ask for another.
      await app.db.query('UPDATE customers SET check_due_at = NULL WHERE workspace_id = $1', [ws]);
      const before = stripe.requests.length;
      const start = Date.now();
      await deliver(ws, [active]);
      assert.equal(stripe.requests.slice(before).filter((r) => r.path === '/v1/subscriptions/sub_tie').length, 1, 'settled alone');
      const { rows } = await app.db.query<{ check_due_at: Date | null }>(
        `SELECT check_due_at FROM customers WHERE workspace_id = $1 AND provider_id = 'cus_tie'`,
        [ws],
      );
      const due = rows[0]?.check_due_at?.toISOString();
      assert.ok(due && Date.parse(due) >= start, `checkDueAt ${due}`);
    });

    test('fall back on the rank rule without an API key, or when Stripe cannot answer', async () => {
      const noKey = await workspace('tie without key', { webhookSecrets: [SECRET] });
      const before = stripe.requests.length;
      await deliver(noKey, [created, active, pastDue]);
      assert.equal((await get(noKey, '/subscriptions')).data[0].status, 'past_due');
      assert.equal(stripe.requests.length, before, 'no API call without a key');

      const down = await workspace('tie with Stripe down', { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
      stripe.failWith = 500;
      try {
        await deliver(down, [created, active, pastDue]);
      } finally {
        stripe.failWith = undefined;
      }
      assert.equal((await get(down, '/subscriptions')).data[0].status, 'past_due');
      assert.deepEqual((await get(down, '/events?status=failed')).data, [], 'a failed fetch never fails the event');
    });
  });

  // A charge whose tie was settled by fetching it keeps Stripe's figure as of the fetch: a refund that fails after it
  // is taken off (Stripe sends no charge event when a refund fails), one that had failed before is not taken off again.
  describe('refunds of a charge settled by a fetch', () => {
    const chargeOf = (id: string, refunded: number, metadata: Record<string, string> = {}) => ({
      id,
      object: 'charge',
      customer: `cus_of_${id}`,
      payment_intent: `pi_of_${id}`,
      status: 'succeeded',
      amount: 1000,
      amount_refunded: refunded,
      refunded: false,
      currency: 'eur',
      metadata,
    });
    const refundFailed = (id: string, chargeId: string, amount: number, createdAt: number, failedAt: number) => {
      const refund = {
        id,
        object: 'refund',
        amount,
        charge: chargeId,
        currency: 'eur',
        created: createdAt,
        metadata: {},
        status: 'failed',
      };
      return stripeEvent('charge.refund.updated', refund, {
        created: failedAt,
        data: { object: refund, previous_attributes: { status: 'pending' } },
      });
    };
    const refundedOf = async (ws: string, id: string) =>
      Number(
        (
          await app.db.query<{ n: string }>(`SELECT amount_refunded AS n FROM payments WHERE workspace_id = $1 AND provider_id = $2`, [
            ws,
            id,
          ])
        ).rows[0]?.n,
      );
    /** Two events of the same second about the charge: the tie is settled by the charge as the stand-in has it. */
    async function settleByFetch(ws: string, id: string, refunded: number, at: number): Promise<void> {
      await deliver(ws, [stripeEvent('charge.refunded', chargeOf(id, refunded), { created: at })]);
      await deliver(ws, [stripeEvent('charge.updated', chargeOf(id, refunded, { note: 'x' }), { created: at })]);
      assert.equal(stripe.requests.filter((r) => r.path === `/v1/charges/${id}`).length, 1, 'the tie was settled by one fetch');
    }

    test('a refund that fails after the fetch is taken off the fetched figure, and a rebuild agrees', async () => {
      const ws = await workspace('refund after fetch', { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
      const now = Math.floor(Date.now() / 1000);
      stripe.objects.set('ch_later', chargeOf('ch_later', 500, { note: 'x' }));
      await settleByFetch(ws, 'ch_later', 500, now - 60);
      assert.equal(await refundedOf(ws, 'ch_later'), 500);
      await deliver(ws, [refundFailed('re_later', 'ch_later', 500, now - 60, now + 5)]);
      assert.equal(await refundedOf(ws, 'ch_later'), 0);
      // A rebuild settles the tie with the stored fetch, as of when it was made: the same figure.
      const rebuilt = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, {});
      assert.deepEqual(rebuilt.body.tables.payments, { added: 0, changed: 0, removed: 0 });
    });

    test('a refund that had failed before the fetch is not taken off it again', async () => {
      const ws = await workspace('refund before fetch', { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
      const now = Math.floor(Date.now() / 1000);
      // re_gone (300) failed 30 s ago; re_kept (200) stands: Stripe's charge counts 200 when it is fetched.
      stripe.objects.set('ch_before', chargeOf('ch_before', 200, { note: 'x' }));
      await settleByFetch(ws, 'ch_before', 500, now - 60);
      assert.equal(await refundedOf(ws, 'ch_before'), 200);
      await deliver(ws, [refundFailed('re_gone', 'ch_before', 300, now - 70, now - 30)]);
      assert.equal(await refundedOf(ws, 'ch_before'), 200);
    });
  });

  describe('managed webhook endpoints', () => {
    test('creates the endpoint in Stripe, stores its secret, and the events it signs verify', async () => {
      const ws = await workspace('managed', { apiKey: stripe.apiKey });
      const res = await app.api('POST', `/api/v1/workspaces/${ws}/connections/stripe/endpoints`, {});
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.webhookSecretCount, 1);
      assert.equal(JSON.stringify(res.body).includes('whsec_'), false, 'the secret is never returned');
      const endpoint = stripe.endpoints.find((e) => e.id === res.body.endpoint.id)!;
      assert.equal(endpoint.url, `${app.url}/webhooks/stripe/${ws}`);
      assert.deepEqual([...endpoint.enabled_events].sort(), [...STRIPE_HANDLED_TYPES].sort());
      assert.equal(endpoint.api_version, await stripeApiVersion());
      assert.equal(endpoint.metadata.sluice_workspace, ws);

      // Stripe returns the secret once, in the create answer: Sluice must have kept it.
      const secret = stripe.issuedSecrets.get(res.body.endpoint.id)!;
      const event = stripeEvent('customer.created', { id: 'cus_managed', email: 'm@example.com' });
      const accepted = await postStripe(app.url, ws, event, signStripe(event, secret));
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));

      // An extra endpoint with its own events: both secrets verify.
      const extra = await app.api('POST', `/api/v1/workspaces/${ws}/connections/stripe/endpoints`, {
        enabledEvents: ['customer.created', 'invoice.paid'],
      });
      assert.equal(extra.status, 201, JSON.stringify(extra.body));
      assert.equal(extra.body.webhookSecretCount, 2);
      assert.deepEqual(stripe.endpoints.find((e) => e.id === extra.body.endpoint.id)!.enabled_events, ['customer.created', 'invoice.paid']);
      const second = stripeEvent('customer.created', { id: 'cus_managed2' });
      assert.equal(
        (await postStripe(app.url, ws, second, signStripe(second, stripe.issuedSecrets.get(extra.body.endpoint.id)!))).status,
        200,
      );
      assert.equal((await postStripe(app.url, ws, second, signStripe(second, secret))).status, 200, 'the first secret still verifies');
    });

    test('refuses clearly without an API key, with a rejected key, or with bad input, and changes nothing', async () => {
      const noKey = await workspace('managed without key', { webhookSecrets: [SECRET] });
      const missing = await app.api('POST', `/api/v1/workspaces/${noKey}/connections/stripe/endpoints`, {});
      assert.equal(missing.status, 409);
      assert.equal(missing.body.error.code, 'STRIPE_API_KEY_MISSING');

      const badKey = 'sk_test_thisKeyIsNotKnownToStripe123';
      const wrong = await workspace('managed with wrong key', { apiKey: badKey });
      const endpointsBefore = stripe.endpoints.length;
      const refused = await app.api('POST', `/api/v1/workspaces/${wrong}/connections/stripe/endpoints`, {});
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, 'STRIPE_AUTH_FAILED');
      assert.equal(JSON.stringify(refused.body).includes(badKey), false, 'the key is never echoed');
      assert.equal(stripe.endpoints.length, endpointsBefore);
      assert.equal((await get(wrong, '/connections/stripe')).webhookSecretCount, 0);

      for (const enabledEvents of [[], 'invoice.paid', ['not an event'], [42]]) {
        const bad = await app.api('POST', `/api/v1/workspaces/${noKey}/connections/stripe/endpoints`, { enabledEvents });
        assert.equal(bad.status, 400, JSON.stringify(enabledEvents));
        assert.equal(bad.body.error.field, 'enabledEvents');
      }
      const unknown = await app.api('POST', `/api/v1/workspaces/${noKey}/connections/stripe/endpoints`, { url: 'https://elsewhere' });
      assert.equal(unknown.status, 400);

      stripe.failWith = 503;
      try {
        const ok = await workspace('managed with Stripe down', { apiKey: stripe.apiKey });
        const unavailable = await app.api('POST', `/api/v1/workspaces/${ok}/connections/stripe/endpoints`, {});
        assert.equal(unavailable.status, 502);
        assert.equal(unavailable.body.error.code, 'STRIPE_UNAVAILABLE');
      } finally {
        stripe.failWith = undefined;
      }
    });
  });

  test('sluice doctor says what is missing, then passes once the endpoint is right', async () => {
    const store = await createTestStore();
    const adminToken = 'doctor_admin_token_0123456789';
    const publicUrl = 'https://hooks.example.test';
    const env = { ...store.env, SLUICE_ADMIN_TOKEN: adminToken, SLUICE_STRIPE_API_URL: stripe.url.href, SLUICE_PUBLIC_URL: publicUrl };
    const server = await startSluiceProcess(env);
    try {
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${server.url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const ws = (await call('POST', '/workspaces', { name: 'doctor' })).body.id as string;
      const doctor = () => runSluice(['doctor', '--workspace', ws], env);

      const notConnected = await doctor();
      assert.equal(notConnected.code, 1);
      assert.match(notConnected.stdout, /\[FAIL\] connection: Stripe is not connected/);

      assert.equal((await call('PUT', `/workspaces/${ws}/connections/stripe`, { apiKey: stripe.apiKey })).status, 200);
      const noEndpoint = await doctor();
      assert.equal(noEndpoint.code, 1);
      assert.match(noEndpoint.stdout, /\[FAIL\] signing secret/);
      assert.match(
        noEndpoint.stdout,
        new RegExp(`\\[FAIL\\] endpoint: no webhook endpoint .* points at ${publicUrl}/webhooks/stripe/${ws}`),
      );
      assert.match(noEndpoint.stdout, /fix: POST …\/connections\/stripe\/endpoints/);

      const created = await call('POST', `/workspaces/${ws}/connections/stripe/endpoints`, {});
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const healthy = await doctor();
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.match(healthy.stdout, /\[ok {2}\] events: subscribed to all/);
      assert.equal(healthy.stdout.includes(stripe.apiKey), false, 'the key is never printed');

      const endpoint = stripe.endpoints.find((e) => e.id === created.body.endpoint.id)!;
      endpoint.enabled_events = endpoint.enabled_events.filter((t) => t !== 'invoice.paid' && t !== 'charge.refunded');
      endpoint.status = 'disabled';
      const broken = await doctor();
      assert.equal(broken.code, 1);
      assert.match(broken.stdout, /\[FAIL\] enabled: the endpoint is disabled/);
      endpoint.status = 'enabled';
      const missing = await doctor();
      assert.equal(missing.code, 1);
      assert.match(
        missing.stdout,
        /\[FAIL\] events: not subscribed to 2 of the \d+ types the CRM handles: invoice.paid, charge.refunded|\[FAIL\] events: not subscribed to 2 of the \d+ types the CRM handles: charge.refunded, invoice.paid/,
      );

      const json = JSON.parse((await runSluice(['doctor', '--workspace', ws, '--json'], env)).stdout);
      assert.equal(json.ok, false);
      assert.equal(json.checks.find((c: any) => c.name === 'events').status, 'fail');
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
      await store.drop();
    }
  });
});
