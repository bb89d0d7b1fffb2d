// The events list's covering index (migration 0032) holds an event's type, provider event id and error, and a
// b-tree entry has a size limit in bytes: text a provider or a failure makes long must never make an insert or
// a worker's finish fail. A type is cut, an error is cut, an event id too long is refused where it is parsed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findHandler } from '../../src/crm/handlers.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_text_bounds_0123456789';

describe('long text in an event', () => {
  let app: TestApp;
  let ws: string;

  before(async () => {
    app = await startTestApp({
      config: { processingRetrySchedule: [600] },
      findHandler: (provider, type) => {
        if (type !== 'customer.wordy_failure') return findHandler(provider, type);
        // A failure whose message is 40,000 bytes of three-byte characters.
        return async () => {
          throw new Error('€'.repeat(13_333) + 'end');
        };
      },
    });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Text bounds' })).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
  });
  after(() => app.close());

  const send = async (body: string) => postStripe(app.url, ws, body, signStripe(body, SECRET));
  const listed = async (providerEventId: string) => {
    const list = await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=500`);
    assert.equal(list.status, 200);
    return list.body.data.find((e: any) => e.providerEventId === providerEventId);
  };

  test('a type of 3,000 four-byte characters is stored cut to 255 bytes; the payload keeps it whole', async () => {
    const type = `customer.${'😀'.repeat(3000)}`;
    const body = stripeEvent(type, { name: 'Long type' });
    const providerEventId = JSON.parse(body).id as string;
    assert.deepEqual(await send(body), { status: 200, body: { received: true } });

    const row = await listed(providerEventId);
    assert.ok(row, 'listed');
    assert.ok(Buffer.byteLength(row.type) <= 255, `type of ${Buffer.byteLength(row.type)} bytes`);
    assert.ok(Buffer.byteLength(row.type) > 250, 'as much of it as fits');
    assert.ok(type.startsWith(row.type), 'a prefix of the type, no character split');
    const event = (await app.api('GET', `/api/v1/workspaces/${ws}/events/${row.id}`)).body;
    assert.equal(event.payload.type, type);
    // Unknown to every handler, it is ignored like any other type nobody handles; its finish went through.
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events/${row.id}`)).body.status === 'ignored',
      'the event ignored',
    );
  });

  test('an event id over 255 bytes is not a Stripe event (400); 254 bytes is', async () => {
    const long = stripeEvent('customer.created', {}, { id: `evt_${'é'.repeat(126)}` }); // 4 + 252 = 256 bytes
    const res = await send(long);
    assert.equal(res.status, 400);
    assert.equal(await listed(JSON.parse(long).id), undefined, 'nothing stored');

    const fits = stripeEvent('customer.created', { name: 'Fits' }, { id: `evt_${'é'.repeat(125)}` }); // 254 bytes
    assert.equal((await send(fits)).status, 200);
    assert.ok(await listed(JSON.parse(fits).id), 'stored and listed');
  });

  test('a processing error of 40,000 bytes is kept as its first 1,000 bytes, whole characters', async () => {
    const body = stripeEvent('customer.wordy_failure', { name: 'Wordy' });
    const providerEventId = JSON.parse(body).id as string;
    assert.equal((await send(body)).status, 200);
    const row = await waitFor(async () => {
      const r = await listed(providerEventId);
      return r?.error ? r : undefined;
    }, 'the failure recorded');
    assert.ok(Buffer.byteLength(row.error) <= 1000, `error of ${Buffer.byteLength(row.error)} bytes`);
    assert.ok(Buffer.byteLength(row.error) > 990, 'as much as fits');
    assert.match(row.error, /^[^\uFFFD]*$/, 'no broken character');
    assert.match(row.error, /€€€/);
    assert.equal(row.attempts, 1);
  });
});
