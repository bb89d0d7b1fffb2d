// Validly signed events whose content PostgreSQL cannot hold are kept (exact bytes), acknowledged 200, failed
// at once with a readable reason and refused for replay; the Stripe connection's mode decides which livemode
// is processed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encryptPianoData } from '../../src/inbound/piano/crypto.js';
import { signStripePayload } from '../../src/inbound/stripe/verify.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { pianoData, sendPiano } from '../helpers/piano.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_unstorable_0123456789';
const PIANO_KEY = 'PianoUnstorableKey0123456789abcdefghij';
const AID = 'AppUnstore1';

describe('events PostgreSQL cannot hold', () => {
  let app: TestApp;
  let ws: string;

  before(async () => {
    app = await startTestApp();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Unstorable' })).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: AID, privateKey: PIANO_KEY })).status, 200);
  });
  after(() => app.close());

  async function eventFor(provider: string, providerEventId?: string): Promise<any> {
    const list = await app.api('GET', `/api/v1/workspaces/${ws}/events?provider=${provider}&limit=500`);
    const row = providerEventId ? list.body.data.find((e: any) => e.providerEventId === providerEventId) : list.body.data[0];
    assert.ok(row, `event ${providerEventId ?? '(newest)'} listed`);
    return (await app.api('GET', `/api/v1/workspaces/${ws}/events/${row.id}`)).body;
  }

  const cases: [string, (id: string) => string, RegExp][] = [
    [
      'a \\u0000 escape in a string',
      (id) => stripeEvent('customer.created', { name: 'a\\u0000b' }, { id }).replace('a\\\\u0000b', 'a\\u0000b'),
      /NUL/,
    ],
    [
      'a lone surrogate',
      (id) => stripeEvent('customer.created', { name: 'x' }, { id }).replace('"name":"x"', '"name":"\\ud800"'),
      /surrogate/,
    ],
    ['created of 1e20', (id) => stripeEvent('customer.created', {}, { id }).replace(/"created":\d+/, '"created":1e20'), /created/],
    [
      'nesting 6,000 levels deep',
      (id) => stripeEvent('customer.created', { name: 'NEST' }, { id }).replace('"NEST"', `${'['.repeat(6000)}${']'.repeat(6000)}`),
      /nested/,
    ],
  ];

  for (const [name, build, reason] of cases) {
    test(`${name}: stored, 200, failed at once with the reason, replay refused`, async () => {
      const providerEventId = `evt_unstorable_${Math.random().toString(36).slice(2)}`;
      const body = build(providerEventId);
      JSON.parse(body); // the case is valid JSON: only PostgreSQL objects to it
      const res = await postStripe(app.url, ws, body, signStripe(body, SECRET));
      assert.deepEqual(res, { status: 200, body: { received: true } });

      const event = await eventFor('stripe', providerEventId);
      assert.equal(event.status, 'failed');
      assert.equal(event.attempts, 0, 'never handed to a worker');
      assert.match(event.error, reason);
      assert.doesNotMatch(event.error, /SELECT|INSERT|jsonb_|\$\d/, 'no SQL in the reason');
      assert.equal(event.payload, null);

      const { rows } = await app.db.query<{ raw: string | null }>(`SELECT raw_body AS raw FROM events WHERE id = $1`, [event.id]);
      assert.equal(rows[0]!.raw, body, 'the signed bytes are kept exactly');

      const again = await postStripe(app.url, ws, body, signStripe(body, SECRET));
      assert.deepEqual(again.body, { received: true, duplicate: true });

      const replay = await app.api('POST', `/api/v1/workspaces/${ws}/events/${event.id}/replay`);
      assert.equal(replay.status, 409);
      assert.equal(replay.body.error.code, 'EVENT_NOT_REPLAYABLE');
      assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/events/${event.id}`)).body.status, 'failed');
    });
  }

  test('a body that is not valid UTF-8 is kept byte for byte and failed', async () => {
    const providerEventId = `evt_badutf8_${Math.random().toString(36).slice(2)}`;
    const text = stripeEvent('customer.created', { name: 'MARK' }, { id: providerEventId });
    const [before, after] = text.split('MARK') as [string, string];
    const body = Buffer.concat([Buffer.from(before), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(after)]);
    // The SDK signs strings as UTF-8, which would change these bytes: sign them as they are.
    const t = Math.floor(Date.now() / 1000);
    const signed = await postStripe(app.url, ws, body, `t=${t},v1=${signStripePayload(body, t, SECRET).toString('hex')}`);
    assert.deepEqual(signed, { status: 200, body: { received: true } });

    const event = await eventFor('stripe', providerEventId);
    assert.equal(event.status, 'failed');
    assert.match(event.error, /UTF-8/);
    const { rows } = await app.db.query<{ raw: Uint8Array | null; text: string | null }>(
      `SELECT raw_bytes AS raw, raw_body AS text FROM events WHERE id = $1`,
      [event.id],
    );
    assert.equal(rows[0]!.text, null);
    assert.equal(Buffer.compare(Buffer.from(rows[0]!.raw!), body), 0, 'raw bytes identical');
  });

  test('a Piano payload with a \\u0000 escape after decryption is stored, 200 and failed', async () => {
    const plaintext = JSON.stringify({ version: 2, type: 'user_created', aid: AID, uid: 'uNUL', email: 'a\u0000b@example.com' });
    assert.ok(plaintext.includes('\\u0000'));
    const res = await sendPiano(app.url, ws, encryptPianoData(plaintext, PIANO_KEY));
    assert.deepEqual(res, { status: 200, body: { received: true } });
    const event = await eventFor('piano');
    assert.equal(event.status, 'failed');
    assert.match(event.error, /NUL/);
    // And a well-formed one is still processed normally next to it.
    const ok = await sendPiano(app.url, ws, pianoData({ version: 2, type: 'user_created', aid: AID, uid: 'uOK' }, PIANO_KEY));
    assert.equal(ok.status, 200);
    await waitFor(async () => (await eventFor('piano')).status === 'processed', 'normal piano event processed');
  });
});

describe('Stripe connection mode', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  async function workspace(mode?: 'test' | 'live'): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: `mode ${mode ?? 'unset'}` })).body.id;
    const put = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, {
      webhookSecrets: [SECRET],
      ...(mode ? { mode } : {}),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    return ws;
  }

  async function settle(ws: string, livemode: boolean): Promise<any> {
    const body = stripeEvent('customer.created', { email: 'm@example.com' }, { livemode });
    assert.equal((await postStripe(app.url, ws, body, signStripe(body, SECRET))).status, 200);
    const id = JSON.parse(body).id;
    return waitFor(async () => {
      const e = (await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=500`)).body.data.find((x: any) => x.providerEventId === id);
      return e && e.status !== 'received' && e;
    }, 'event settled');
  }

  test('a test connection ignores live events, a live one test events, an unset one takes both', async () => {
    const test_ = await workspace('test');
    const live = await workspace('live');
    const unset = await workspace();

    const liveIntoTest = await settle(test_, true);
    assert.equal(liveIntoTest.status, 'ignored');
    assert.match(liveIntoTest.error, /live-mode event ignored.*test mode/);
    assert.equal((await settle(test_, false)).status, 'processed');

    const testIntoLive = await settle(live, false);
    assert.equal(testIntoLive.status, 'ignored');
    assert.match(testIntoLive.error, /test-mode event ignored.*live mode/);
    assert.equal((await settle(live, true)).status, 'processed');

    assert.equal((await settle(unset, true)).status, 'processed');
    assert.equal((await settle(unset, false)).status, 'processed');

    const health = (await app.api('GET', `/api/v1/workspaces/${test_}/health`)).body.providers.stripe;
    assert.equal(health.counts.ignored, 1);
    assert.equal(health.counts.processed, 1);
    assert.deepEqual(health.unhandledTypes, [], 'ignored by the mode rule, not for want of a handler');
    // Nothing was published for the ignored event.
    const messages = (await app.api('GET', `/api/v1/workspaces/${test_}/messages?type=customer.created`)).body.data;
    assert.equal(messages.length, 1);
  });
});
