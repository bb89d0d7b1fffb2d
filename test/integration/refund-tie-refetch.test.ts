// A charge whose same-second tie was settled by fetching it from Stripe keeps the figure Stripe gave then, as of the
// fetch: a refund that fails after it is taken off (Stripe sends no charge event when a refund fails), one that had
// failed before it is not taken off a second time. The fetched row used to keep no figure, and the refund that failed
// later stayed counted until some other event of the charge came.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';

const SECRET = 'whsec_refund_tie_refetch';

describe('refunds of a charge settled by a fetch', () => {
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

  /** A workspace with the stand-in's API key, and a way to deliver events and wait for them to be processed. */
  async function workspace() {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'tie refetch' })).body.id as string;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], apiKey: stripe.apiKey });
    const deliver = async (payload: string) => {
      assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
      await waitFor(
        async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
        'processed',
      );
    };
    const charge = async (id: string) =>
      (
        await app.db.query<{ n: string }>(`SELECT amount_refunded AS n FROM payments WHERE workspace_id = $1 AND provider_id = $2`, [
          ws,
          id,
        ])
      ).rows[0]?.n;
    return { ws, deliver, charge };
  }

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
  const refundOf = (id: string, chargeId: string, amount: number, status: string, created: number) => ({
    id,
    object: 'refund',
    amount,
    charge: chargeId,
    currency: 'eur',
    created,
    metadata: {},
    status,
  });
  const refundFailed = (refund: Record<string, unknown>, created: number) =>
    stripeEvent('charge.refund.updated', refund, { created, data: { object: refund, previous_attributes: { status: 'pending' } } });

  /** Two events of the same second about the charge: the tie is settled by the charge as the stand-in has it. */
  async function settleByFetch(deliver: (p: string) => Promise<void>, id: string, refunded: number, at: number) {
    const fetches = () => stripe.requests.filter((r) => r.path === `/v1/charges/${id}`).length;
    await deliver(stripeEvent('charge.refunded', chargeOf(id, refunded), { created: at }));
    await deliver(stripeEvent('charge.updated', chargeOf(id, refunded, { note: 'x' }), { created: at }));
    assert.equal(fetches(), 1, 'the tie was settled by one fetch');
  }

  test('a refund that fails after the fetch is taken off the fetched figure', async () => {
    const { ws, deliver, charge } = await workspace();
    const now = Math.floor(Date.now() / 1000);
    stripe.objects.set('ch_later', chargeOf('ch_later', 500, { note: 'x' }));
    await settleByFetch(deliver, 'ch_later', 500, now - 60);
    assert.equal(Number(await charge('ch_later')), 500);
    // Stripe sends the refund's failure, and no charge event.
    await deliver(refundFailed(refundOf('re_later', 'ch_later', 500, 'failed', now - 60), now + 5));
    assert.equal(Number(await charge('ch_later')), 0);
    // A rebuild settles the tie with the stored fetch, as of when it was made: the same figure.
    const rebuilt = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, {});
    assert.deepEqual(rebuilt.body.tables.payments, { added: 0, changed: 0, removed: 0 });
  });

  test('a refund that had failed before the fetch is not taken off it again', async () => {
    const { deliver, charge } = await workspace();
    const now = Math.floor(Date.now() / 1000);
    // re_gone (300) failed 30 s ago; re_kept (200) stands: Stripe's charge counts 200 when it is fetched.
    stripe.objects.set('ch_before', chargeOf('ch_before', 200, { note: 'x' }));
    await settleByFetch(deliver, 'ch_before', 500, now - 60);
    assert.equal(Number(await charge('ch_before')), 200);
    await deliver(refundFailed(refundOf('re_gone', 'ch_before', 300, 'failed', now - 70), now - 30));
    assert.equal(Number(await charge('ch_before')), 200);
  });
});
