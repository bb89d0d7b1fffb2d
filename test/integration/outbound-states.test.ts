// Endpoint states (paused vs disabled), event types checked against the catalog, HTTPS-only destinations, test
// messages flagged, custom event input, and the SQL filter rule held to the TypeScript one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { matchesEventType } from '../../src/catalog/index.js';
import { typeMatchesPatterns } from '../../src/db/queries/messages.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { withMigratedBefore } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('outbound states, types and policy', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, retrySchedule: [0, 0.2, 0.2] } });
  });
  after(async () => {
    await app.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  }
  async function workspace(name: string) {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    const publish = async (type: string, data: Record<string, unknown> = {}) => {
      const res = await call('POST', '/events', { type, data });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.message.id as string;
    };
    return { ws, call, publish };
  }
  const settle = () => new Promise((r) => setTimeout(r, 400));

  test('paused: messages published meanwhile wait and are delivered after resume', async () => {
    const { call, publish } = await workspace('paused');
    const r = await receiver();
    const ep = (await call('POST', '/endpoints', { url: r.url, eventTypes: ['course.*'] })).body;
    assert.equal(ep.state, 'enabled');
    const paused = await call('PATCH', `/endpoints/${ep.id}`, { state: 'paused' });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.state, 'paused');
    assert.equal(paused.body.enabled, false);
    const id = await publish('course.enrolled', { n: 1 });
    await settle();
    assert.equal(r.requests.length, 0, 'nothing is sent while paused');
    const waiting = (await call('GET', `/endpoints/${ep.id}/deliveries`)).body.data;
    assert.deepEqual(
      waiting.map((d: any) => [d.messageId, d.status, d.attempts]),
      [[id, 'pending', 0]],
    );
    assert.equal((await call('PATCH', `/endpoints/${ep.id}`, { state: 'enabled' })).body.state, 'enabled');
    await waitFor(async () => r.requests.length === 1, 'delivered after resume');
    assert.equal(r.requests[0]!.headers['webhook-id'], id);
  });

  test('the health view counts endpoints by state: a paused one is not counted as disabled', async () => {
    const { call } = await workspace('health-states');
    const r = await receiver();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await call('POST', '/endpoints', { url: `${r.url}/${i}` })).body.id);
    assert.equal((await call('PATCH', `/endpoints/${ids[0]}`, { state: 'paused' })).status, 200);
    assert.equal((await call('PATCH', `/endpoints/${ids[1]}`, { state: 'disabled' })).status, 200);
    const health = await call('GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body.outbound.endpoints, { enabled: 2, paused: 1, disabled: 1 });
  });

  test('disabled: nothing is created meanwhile; recover {since} creates and sends what was missed', async () => {
    const { call, publish } = await workspace('disabled');
    const r = await receiver();
    const ep = (await call('POST', '/endpoints', { url: r.url, eventTypes: ['course.*'] })).body;
    const since = new Date(Date.now() - 1000).toISOString();
    assert.equal((await call('PATCH', `/endpoints/${ep.id}`, { enabled: false })).body.state, 'disabled');
    const missed = await publish('course.enrolled', { n: 2 });
    await publish('lesson.done'); // not matched by the filter: never sent
    await settle();
    assert.deepEqual((await call('GET', `/endpoints/${ep.id}/deliveries`)).body.data, [], 'no delivery while disabled');
    assert.equal((await call('PATCH', `/endpoints/${ep.id}`, { state: 'enabled' })).body.enabled, true);
    await settle();
    assert.equal(r.requests.length, 0, 'enabling alone does not resend what was missed');
    const recovered = await call('POST', `/endpoints/${ep.id}/recover`, { since });
    assert.equal(recovered.status, 202);
    assert.deepEqual(recovered.body, { requeued: 0, created: 1 });
    await waitFor(async () => r.requests.length === 1, 'recovered delivery');
    assert.equal(r.requests[0]!.headers['webhook-id'], missed);
    assert.deepEqual((await call('POST', `/endpoints/${ep.id}/recover`, { since })).body, { requeued: 0, created: 0 }, 'idempotent');
    const bad = await call('PATCH', `/endpoints/${ep.id}`, { state: 'asleep' });
    assert.equal(bad.status, 400);
    assert.equal((await call('PATCH', `/endpoints/${ep.id}`, { state: 'paused', enabled: true })).status, 400);
  });

  test('unknown event types are refused with a suggestion, everywhere a type is named', async () => {
    const { call } = await workspace('types');
    const r = await receiver();
    const misspelt = await call('POST', '/endpoints', { url: r.url, eventTypes: ['subscriptoin.*'] });
    assert.equal(misspelt.status, 400);
    assert.equal(misspelt.body.error.code, 'UNKNOWN_EVENT_TYPE');
    assert.equal(misspelt.body.error.suggestion, 'subscription.*');
    assert.match(misspelt.body.error.message, /did you mean subscription\.\*\?/);
    assert.deepEqual((await call('GET', '/endpoints')).body.data, [], 'nothing created');

    const ok = await call('POST', '/endpoints', {
      url: r.url,
      eventTypes: ['subscription.*', 'stripe.invoice.paid', 'piano.*', 'course.enrolled', '*'],
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const patch = await call('PATCH', `/endpoints/${ok.body.id}`, { eventTypes: ['subscription.cancelled'] });
    assert.equal(patch.body.error.code, 'UNKNOWN_EVENT_TYPE');
    assert.equal(patch.body.error.suggestion, 'subscription.canceled');

    const hook = await call('POST', '/hooks', { targetUrl: r.url, event: 'paymnet.failed' });
    assert.equal(hook.status, 400);
    assert.equal(hook.body.error.field, 'event');
    assert.equal(hook.body.error.suggestion, 'payment.failed');
    const sample = await call('GET', '/hooks/sample?event=subscriptoin.canceled');
    assert.equal(sample.body.error.code, 'UNKNOWN_EVENT_TYPE');
    const list = await call('GET', '/messages?type=subscriptoin.*');
    assert.equal(list.status, 400);
    assert.equal(list.body.error.suggestion, 'subscription.*');
    assert.equal((await call('GET', '/messages?type=subscription.*')).status, 200);
  });

  test('custom types under a business word are valid once published', async () => {
    const { call, publish } = await workspace('custom types');
    const r = await receiver();
    assert.equal((await call('POST', '/endpoints', { url: r.url, eventTypes: ['order.shipped'] })).body.error.code, 'UNKNOWN_EVENT_TYPE');
    await publish('order.shipped');
    assert.equal((await call('POST', '/endpoints', { url: r.url, eventTypes: ['order.shipped'] })).status, 201);
  });

  test('https only, unless the address is inside SLUICE_OUTBOUND_ALLOW', async () => {
    const { call } = await workspace('https');
    for (const [path, body] of [
      ['/endpoints', { url: 'http://93.184.216.34/hook' }],
      ['/hooks', { targetUrl: 'http://93.184.216.34/hook', event: 'subscription.canceled' }],
    ] as const) {
      const res = await call('POST', path, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'URL_NOT_HTTPS');
      assert.match(res.body.error.message, /SLUICE_OUTBOUND_ALLOW_HTTP=true/);
    }
    const r = await receiver();
    const ep = (await call('POST', '/endpoints', { url: r.url })).body;
    assert.equal((await call('PATCH', `/endpoints/${ep.id}`, { url: 'http://93.184.216.34/' })).body.error.code, 'URL_NOT_HTTPS');
    assert.equal((await call('POST', '/endpoints', { url: 'https://93.184.216.34/hook' })).status, 201);
  });

  test('test messages carry test: true in the delivery, the message list and synthetic samples', async () => {
    const { call, publish } = await workspace('test flag');
    const r = await receiver();
    const ep = (await call('POST', '/endpoints', { url: r.url, eventTypes: ['subscription.*'] })).body;
    assert.equal((await call('POST', `/endpoints/${ep.id}/test`, { type: 'subscription.canceled' })).status, 202);
    await waitFor(async () => r.requests.length === 1, 'test delivery');
    const delivered = JSON.parse(r.requests[0]!.body);
    assert.equal(delivered.test, true);
    assert.equal(delivered.type, 'subscription.canceled');
    const listed = (await call('GET', '/messages')).body.data;
    assert.deepEqual(
      listed.map((m: any) => [m.type, m.test]),
      [['subscription.canceled', true]],
    );
    // The test message is not taken for a real one by the sample either.
    const sample = (await call('GET', '/hooks/sample?event=subscription.canceled')).body[0];
    assert.equal(sample.test, true);
    assert.equal(sample.id, 'msg_sample0000000000000000');
    const real = await publish('course.enrolled', { real: 1 });
    const realSample = (await call('GET', '/hooks/sample?event=course.enrolled')).body[0];
    assert.equal(realSample.id, real);
    assert.equal('test' in realSample, false);
    const realListed = (await call('GET', '/messages?type=course.*')).body.data[0];
    assert.equal('test' in realListed, false);
  });

  test('custom events: the type rule is spelled out; deep or NUL-bearing data is a 400 that stores nothing', async () => {
    const { call } = await workspace('custom input');
    const badType = await call('POST', '/events', { type: 'Course Enrolled!!', data: {} });
    assert.equal(badType.status, 400);
    assert.match(badType.body.error.message, /lower-case letters, digits and underscores/);
    assert.doesNotMatch(badType.body.error.message, /is required/);
    assert.match((await call('POST', '/events', { type: 'piano.thing', data: {} })).body.error.message, /reserved prefix "piano\."/);
    assert.match((await call('POST', '/events', {})).body.error.message, /type is required/);

    // Written out as text: JSON.stringify itself cannot produce 10k levels.
    const deep = `{"type":"course.deep","data":${'{"d":'.repeat(10_000)}{}${'}'.repeat(10_000)}}`;
    const res = await fetch(`${app.url}/api/v1/workspaces/${(await workspace('deep')).ws}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json' },
      body: deep,
    });
    const nested = { status: res.status, body: (await res.json()) as any };
    assert.equal(nested.status, 400, JSON.stringify(nested.body).slice(0, 300));
    assert.match(nested.body.error.message, /nested deeper than 64 levels/);
    const nul = await call('POST', '/events', { type: 'course.nul', data: { name: 'a\u0000b' } });
    assert.equal(nul.status, 400);
    assert.match(nul.body.error.message, /data\.name contains a NUL character/);
    const nulKey = await call('POST', '/events', { type: 'course.nul', data: { ['k\u0000']: 1 } });
    assert.equal(nulKey.status, 400);
    assert.deepEqual((await call('GET', '/messages')).body.data, []);
  });

  test('destinations written as decimal, octal or hex hosts are judged by the address they mean', async () => {
    const strictApp = await startTestApp({ worker: false, config: { outboundAllow: [] } });
    try {
      const ws = (await strictApp.api('POST', '/api/v1/workspaces', { name: 'forms' })).body.id;
      for (const url of [
        'https://2130706433/',
        'https://0x7f.1/',
        'https://017700000001/',
        'https://[::7f00:1]/',
        'https://[::ffff:7f00:1]/',
      ]) {
        const res = await strictApp.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url });
        assert.equal(res.status, 400, url);
        assert.match(res.body.error.message, /127\.0\.0\.1|::7f00:1/, url);
        assert.match(res.body.error.message, /SLUICE_OUTBOUND_ALLOW/, url);
      }
    } finally {
      await strictApp.close();
    }
  });

  test('the SQL filter rule agrees with the TypeScript one', async () => {
    const cases: [string[], string][] = [
      [[], 'a.b'],
      [['*'], 'a.b'],
      [['subscription.*'], 'subscription.canceled'],
      [['subscription.*'], 'subscriptions.x'],
      [['subscription.*'], 'subscription'],
      [['stripe.customer.*'], 'stripe.customer.subscription.created'],
      [['stripe.customer.*'], 'stripe.customers.x'],
      [['order.completed'], 'order.refunded'],
      [['order.completed', 'order.refunded'], 'order.refunded'],
      [['a_b.*'], 'a_b.c'],
      [['a.*'], 'ab.c'],
    ];
    for (const [patterns, type] of cases) {
      assert.equal(await typeMatchesPatterns(app.db, patterns, type), matchesEventType(patterns, type), `${patterns.join(',')} ~ ${type}`);
    }
  });
});

test('migration 0006 backfills state from the enabled flag', async () => {
  await withMigratedBefore(6, async (db, finish) => {
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_m', 'm')`);
    for (const [id, enabled] of [
      ['ep_on', true],
      ['ep_off', false],
    ] as const) {
      await db.query(
        `INSERT INTO endpoints (id, workspace_id, url, enabled, secrets_sealed) VALUES ($1, 'ws_m', 'https://x.example/', $2, 's')`,
        [id, enabled],
      );
    }
    await finish();
    const { rows } = await db.query<{ id: string; state: string; enabled: boolean }>(
      'SELECT id, state, enabled FROM endpoints ORDER BY id',
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.state, r.enabled]),
      [
        ['ep_off', 'disabled', false],
        ['ep_on', 'enabled', true],
      ],
    );
  });
});
