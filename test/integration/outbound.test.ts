// Outbound webhooks end to end: real HTTP receivers on loopback, signatures checked with the reference
// `standardwebhooks` library, retries, 410, per-endpoint isolation, filters, custom events and REST Hooks.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const SECRET = 'whsec_outbound_test_secret';

describe('outbound webhooks', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  before(async () => {
    app = await startTestApp({
      config: { outboundAllow: LOOPBACK, retrySchedule: [0, 0.2, 0.2, 0.2], outboundTimeoutMs: 4000, endpointConcurrency: 2 },
    });
  });
  after(async () => {
    await app.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function receiver(answer?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  }
  async function workspace(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    return ws;
  }
  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  async function endpoint(ws: string, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
    const res = await call('POST', ws, '/endpoints', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }
  const publish = async (ws: string, type: string, data: Record<string, unknown> = {}, id?: string) => {
    const res = await call('POST', ws, '/events', { type, data, ...(id ? { id } : {}) });
    assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
    return res.body.message.id as string;
  };

  test('every delivery verifies with standardwebhooks; during a rotation with the old and the new secret', async () => {
    const ws = await workspace('signing');
    const r = await receiver();
    const ep = await endpoint(ws, { url: `${r.url}/hook`, description: 'app' });
    assert.match(ep.secret, /^whsec_/);
    const messageId = await publish(ws, 'course.enrolled', { course: 'ts-101', user: 'u_1' });
    await waitFor(async () => r.requests.length === 1, 'first delivery');
    const first = r.requests[0]!;
    assert.equal(first.headers['webhook-id'], messageId);
    const verified = new Webhook(ep.secret).verify(first.body, first.headers as Record<string, string>) as any;
    assert.equal(verified.type, 'course.enrolled');
    assert.deepEqual(verified.data, { course: 'ts-101', user: 'u_1' });
    assert.equal(verified.workspaceId, ws);

    const rotated = await call('POST', ws, `/endpoints/${ep.id}/rotate-secret`);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.secret, ep.secret);
    await publish(ws, 'course.enrolled', { course: 'ts-102' });
    await waitFor(async () => r.requests.length === 2, 'delivery after rotation');
    const second = r.requests[1]!;
    assert.equal(String(second.headers['webhook-signature']).split(' ').length, 2, 'signed with both secrets');
    for (const secret of [ep.secret, rotated.body.secret]) {
      assert.equal((new Webhook(secret).verify(second.body, second.headers as Record<string, string>) as any).data.course, 'ts-102');
    }
    assert.throws(() =>
      new Webhook('whsec_' + Buffer.alloc(32, 7).toString('base64')).verify(second.body, second.headers as Record<string, string>),
    );
    assert.equal(JSON.stringify((await call('GET', ws, `/endpoints/${ep.id}`)).body).includes('whsec_'), false, 'secrets are not listed');

    // A second rotation within the day (a double click): the first secret still verifies, beside both new ones.
    const again = await call('POST', ws, `/endpoints/${ep.id}/rotate-secret`);
    assert.equal(again.status, 200);
    await publish(ws, 'course.enrolled', { course: 'ts-103' });
    await waitFor(async () => r.requests.length === 3, 'delivery after a second rotation');
    const third = r.requests[2]!;
    assert.equal(String(third.headers['webhook-signature']).split(' ').length, 3);
    for (const secret of [ep.secret, rotated.body.secret, again.body.secret]) {
      assert.equal((new Webhook(secret).verify(third.body, third.headers as Record<string, string>) as any).data.course, 'ts-103');
    }
  });

  test('custom headers go with every delivery, and a change to them applies to the next one', async () => {
    const ws = await workspace('custom-headers');
    const r = await receiver();
    const ep = await endpoint(ws, { url: r.url, headers: { 'x-receiver-token': 'first' } });
    await publish(ws, 'course.enrolled', { n: 1 });
    await waitFor(async () => r.requests.length === 1, 'first delivery');
    assert.equal(r.requests[0]!.headers['x-receiver-token'], 'first');
    assert.equal((await call('PATCH', ws, `/endpoints/${ep.id}`, { headers: { 'x-receiver-token': 'second' } })).status, 200);
    await publish(ws, 'course.enrolled', { n: 2 });
    await waitFor(async () => r.requests.length === 2, 'delivery after the change');
    assert.equal(r.requests[1]!.headers['x-receiver-token'], 'second');
    // Signed with the endpoint's secret still: the headers changed, not the secret.
    assert.equal((new Webhook(ep.secret).verify(r.requests[1]!.body, r.requests[1]!.headers as Record<string, string>) as any).data.n, 2);
    // A receiver that echoes its request does not make a write-only value readable through the delivery log.
    const echo = await receiver((req) => ({ status: 200, body: JSON.stringify(req.headers) }));
    const echoed = await endpoint(ws, { url: echo.url, headers: { authorization: 'Bearer write-only-credential' } });
    await publish(ws, 'course.enrolled', { n: 3 });
    const [delivery] = await waitFor(async () => {
      const list = (await call('GET', ws, `/endpoints/${echoed.id}/deliveries`)).body.data;
      return list[0]?.status === 'succeeded' ? list : null;
    }, 'echoed delivery');
    assert.equal(echo.requests[0]!.headers.authorization, 'Bearer write-only-credential', 'sent as set');
    const excerpt = (await call('GET', ws, `/deliveries/${delivery.id}`)).body.attemptLog[0].responseExcerpt as string;
    assert.match(excerpt, /"authorization":"\[header value\]"/);
    assert.ok(!excerpt.includes('write-only-credential'));
  });

  test('a rate limit holds: never more attempts started in a second than the endpoint allows', async () => {
    const ws = await workspace('rate-limit');
    const r = await receiver();
    await endpoint(ws, { url: r.url, rateLimit: 2 });
    for (let n = 0; n < 10; n++) await publish(ws, 'lesson.completed', { n });
    await waitFor(async () => r.requests.length === 10, 'ten deliveries', 20_000);
    const at = r.requests.map((q) => q.at).sort((x, y) => x - y);
    // Any three arrivals span a second, less a little for the clocks of the claim and the receiver.
    for (let i = 0; i + 2 < at.length; i++)
      assert.ok(at[i + 2]! - at[i]! >= 900, `arrivals ${i}–${i + 2}: ${at.slice(i, i + 3).join(', ')}`);
  });

  test('500 three times then 200: one success, four attempts, the same webhook-id', async () => {
    const ws = await workspace('retries');
    const r = await receiver((_req, n) => (n <= 3 ? { status: 500, body: `boom ${n}` } : { status: 200, body: 'thanks' }));
    const ep = await endpoint(ws, { url: r.url });
    const messageId = await publish(ws, 'lesson.completed', { lesson: 1 });
    const [delivery] = (await waitFor(async () => {
      const list = (await call('GET', ws, `/endpoints/${ep.id}/deliveries`)).body.data;
      return list[0]?.status === 'succeeded' ? list : null;
    }, 'delivery succeeded')) as any[];
    assert.equal(r.requests.length, 4);
    assert.deepEqual(new Set(r.requests.map((q) => q.headers['webhook-id'])), new Set([messageId]));
    const detail = (await call('GET', ws, `/deliveries/${delivery.id}`)).body;
    assert.equal(detail.attempts, 4);
    assert.deepEqual(
      detail.attemptLog.map((a: any) => [a.statusCode, a.outcome]),
      [
        [500, 'retry'],
        [500, 'retry'],
        [500, 'retry'],
        [200, 'succeeded'],
      ],
    );
    assert.equal(detail.attemptLog[0].responseExcerpt, 'boom 1');
    assert.deepEqual(
      (await call('GET', ws, `/deliveries?message=${messageId}`)).body.data.map((d: any) => d.id),
      [delivery.id],
    );
  });

  test('a receiver that sends an unasked 100 Continue before its 200: the attempt succeeds', async () => {
    const ws = await workspace('interim-continue');
    const heads: string[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (chunk: Buffer) => {
        heads.push(chunk.toString('latin1'));
        socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nthanks');
        socket.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const ep = await endpoint(ws, { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook` });
      await publish(ws, 'lesson.completed', { lesson: 2 });
      const detail = await waitFor(async () => {
        const [d] = (await call('GET', ws, `/endpoints/${ep.id}/deliveries`)).body.data;
        const found = d && (await call('GET', ws, `/deliveries/${d.id}`)).body;
        // The delivery and its attempts are read one after the other: both once the record is in.
        return found?.attemptLog.length >= 1 && found.status !== 'pending' ? found : null;
      }, 'an attempt recorded');
      assert.deepEqual(
        detail.attemptLog.map((a: any) => [a.statusCode, a.outcome, a.error, a.responseExcerpt]),
        [[200, 'succeeded', null, 'thanks']],
      );
      assert.equal(detail.status, 'succeeded');
      assert.equal(heads.length, 1);
      assert.doesNotMatch(heads[0]!, /^expect:/im, 'no Expect: 100-continue was sent');
    } finally {
      server.close();
    }
  });

  test('a receiver that sends interim answers without end: the attempt fails at once with that error, and is retried', async () => {
    const ws = await workspace('interim-flood');
    let floods = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        floods += 1;
        const t = setInterval(() => (socket.destroyed ? clearInterval(t) : socket.write('HTTP/1.1 103 Early Hints\r\n\r\n')), 5);
        socket.on('close', () => clearInterval(t));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const ep = await endpoint(ws, { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook` });
      await publish(ws, 'lesson.completed', { lesson: 3 });
      const detail = await waitFor(async () => {
        const [d] = (await call('GET', ws, `/endpoints/${ep.id}/deliveries`)).body.data;
        const found = d && (await call('GET', ws, `/deliveries/${d.id}`)).body;
        return found?.attemptLog.length >= 2 ? found : null;
      }, 'two attempts recorded');
      // Before the bound, each attempt ended at the attempt's time ('no answer within 4000 ms').
      const expected = 'the receiver sent more than 8 interim (1xx) answers without a final one; the connection was dropped';
      assert.deepEqual(
        detail.attemptLog.slice(0, 2).map((a: any) => [a.statusCode, a.outcome, a.error]),
        [
          [null, 'retry', expected],
          [null, 'retry', expected],
        ],
      );
      assert.ok(floods >= 2, 'each attempt reached the receiver');
      // Sluice is still well: its API answers, and another endpoint is delivered to.
      assert.equal((await call('GET', ws, '/health')).status, 200);
      const r = await receiver();
      await endpoint(ws, { url: `${r.url}/hook` });
      await publish(ws, 'course.enrolled', { course: 'after-the-flood' });
      await waitFor(async () => r.requests.length >= 1, 'a delivery to the healthy endpoint');
    } finally {
      server.close();
    }
  });

  test('the schedule used up leaves the delivery failed; recover and retry send it again', async () => {
    const ws = await workspace('failed');
    let healthy = false;
    const r = await receiver(() => (healthy ? { status: 204 } : { status: 503, headers: { 'retry-after': '0' } }));
    const ep = await endpoint(ws, { url: r.url });
    const since = new Date(Date.now() - 1000).toISOString();
    await publish(ws, 'lesson.completed', { lesson: 2 });
    await waitFor(async () => (await call('GET', ws, `/endpoints/${ep.id}/deliveries?status=failed`)).body.data.length === 1, 'failed');
    assert.equal(r.requests.length, 4, 'as many attempts as the schedule has entries');
    assert.ok((await call('GET', ws, `/endpoints/${ep.id}`)).body.failingSince);
    const health = (await call('GET', ws, '/health')).body.outbound;
    assert.deepEqual(
      health.failingEndpoints.map((e: any) => e.id),
      [ep.id],
    );
    assert.equal(health.deliveries.failed, 1);

    healthy = true;
    const recovered = await call('POST', ws, `/endpoints/${ep.id}/recover`, { since });
    assert.deepEqual(recovered.body, { requeued: 1, created: 0 });
    await waitFor(
      async () => (await call('GET', ws, `/endpoints/${ep.id}/deliveries?status=succeeded`)).body.data.length === 1,
      'recovered',
    );
    const view = (await call('GET', ws, `/endpoints/${ep.id}`)).body;
    assert.equal(view.failingSince, null);
    assert.deepEqual(view.deliveries, { pending: 0, failed: 0, succeeded: 1, oldestPendingSeconds: null });

    const [delivery] = (await call('GET', ws, `/endpoints/${ep.id}/deliveries`)).body.data;
    assert.equal((await call('POST', ws, `/deliveries/${delivery.id}/retry`)).status, 202);
    await waitFor(async () => r.requests.length === 6, 'resent on request');
    assert.equal((await call('POST', ws, '/deliveries/dlv_000000000000000000000000/retry')).status, 404);
    assert.equal((await call('POST', ws, `/endpoints/${ep.id}/recover`, {})).status, 400);
  });

  test('410 disables an endpoint and removes a REST Hooks subscription', async () => {
    const ws = await workspace('gone');
    const r = await receiver(() => ({ status: 410 }));
    const ep = await endpoint(ws, { url: r.url });
    const hook = await call('POST', ws, '/hooks', { targetUrl: `${r.url}/zap`, event: 'course.enrolled' });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    await publish(ws, 'course.enrolled');
    await waitFor(async () => (await call('GET', ws, `/endpoints/${ep.id}`)).body.enabled === false, 'endpoint disabled');
    assert.match((await call('GET', ws, `/endpoints/${ep.id}`)).body.disabledReason, /410/);
    await waitFor(async () => (await call('GET', ws, `/endpoints/${hook.body.id}`)).status === 404, 'hook removed');
    const requestsBefore = r.requests.length;
    await publish(ws, 'course.enrolled');
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(r.requests.length, requestsBefore, 'a disabled endpoint receives nothing');
  });

  test('a blackholed endpoint does not hold up a healthy one', async () => {
    const ws = await workspace('isolation');
    const blackhole = await receiver(() => 'hang');
    const healthy = await receiver();
    const dead = await endpoint(ws, { url: blackhole.url });
    await endpoint(ws, { url: healthy.url });
    for (let i = 0; i < 12; i++) await publish(ws, 'course.enrolled', { i });
    await waitFor(async () => healthy.requests.length === 12, 'all 12 at the healthy endpoint');
    // At this point the blackhole holds its two slots (SLUICE_ENDPOINT_CONCURRENCY) and has recorded nothing:
    // the healthy endpoint did not wait for it.
    assert.equal(blackhole.requests.length, 2);
    const deadDeliveries = (await call('GET', ws, `/endpoints/${dead.id}/deliveries`)).body.data;
    assert.equal(deadDeliveries.filter((d: any) => d.status === 'pending').length, 12);
  });

  test('filters: subscription.* gets subscription events only; stripe.customer.* the raw customer events', async () => {
    const ws = await workspace('filters');
    const subs = await receiver();
    const raw = await receiver();
    await endpoint(ws, { url: subs.url, eventTypes: ['subscription.*'] });
    await endpoint(ws, { url: raw.url, eventTypes: ['stripe.customer.*'] });
    const t = Math.floor(Date.now() / 1000);
    for (const payload of [
      stripeEvent('customer.created', { id: 'cus_f', email: 'f@example.com' }, { created: t }),
      stripeEvent(
        'customer.subscription.created',
        { id: 'sub_f', object: 'subscription', customer: 'cus_f', status: 'active', items: { data: [] } },
        { created: t + 1 },
      ),
    ]) {
      assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    }
    await publish(ws, 'course.enrolled');
    await waitFor(async () => subs.requests.length >= 2 && raw.requests.length >= 2, 'filtered deliveries');
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(subs.requests.map((q) => JSON.parse(q.body).type).sort(), ['subscription.activated', 'subscription.created']);
    assert.deepEqual(raw.requests.map((q) => JSON.parse(q.body).type).sort(), [
      'stripe.customer.created',
      'stripe.customer.subscription.created',
    ]);
    const rawBody = JSON.parse(raw.requests.find((q) => JSON.parse(q.body).type === 'stripe.customer.created')!.body);
    assert.equal(rawBody.data.data.object.id, 'cus_f');
    assert.equal(rawBody.source.provider, 'stripe');
  });

  test('custom events: validated, idempotent with an id', async () => {
    const ws = await workspace('custom');
    const first = await call('POST', ws, '/events', { type: 'course.enrolled', data: { user: 'u' }, id: 'enrol-1' });
    assert.equal(first.status, 201);
    const again = await call('POST', ws, '/events', { type: 'course.enrolled', data: { user: 'u' }, id: 'enrol-1' });
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.message.id, first.body.message.id);
    assert.equal((await call('GET', ws, '/messages?type=course.enrolled')).body.data.length, 1);
    for (const bad of [
      { type: 'Course Enrolled' },
      { type: 'subscription.canceled' },
      { type: 'stripe.charge.succeeded' },
      { type: 'a.b', data: [1] },
      { type: 'a.b', x: 1 },
    ]) {
      const res = await call('POST', ws, '/events', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
  });

  test('REST Hooks: subscribe, sample for every business type, unsubscribe', async () => {
    const ws = await workspace('hooks');
    const r = await receiver();
    const hook = await call('POST', ws, '/hooks', { targetUrl: r.url, event: 'course.enrolled' });
    assert.equal(hook.status, 201);
    await publish(ws, 'course.enrolled', { user: 'zap' });
    await waitFor(async () => r.requests.length === 1, 'hook delivery');
    for (const type of ['subscription.canceled', 'access.granted', 'order.completed', 'payment.failed', 'stripe.invoice.paid']) {
      const sample = await call('GET', ws, `/hooks/sample?event=${type}`);
      assert.equal(sample.status, 200);
      assert.equal(sample.body[0].type, type);
      assert.ok(Object.keys(sample.body[0].data).length > 0, type);
    }
    const realSample = (await call('GET', ws, '/hooks/sample?event=course.enrolled')).body[0];
    assert.deepEqual(realSample.data, { user: 'zap' }, 'a real message when there is one');
    assert.equal((await call('GET', ws, '/hooks/sample')).status, 400);
    assert.equal((await call('DELETE', ws, `/hooks/${hook.body.id}`)).status, 204);
    assert.equal((await call('DELETE', ws, `/hooks/${hook.body.id}`)).status, 404);
    assert.equal((await call('POST', ws, '/hooks', { targetUrl: 'ftp://x', event: 'a.b' })).status, 400);
  });

  test('test events go to one endpoint only; bad endpoint input is refused', async () => {
    const ws = await workspace('test events');
    const a = await receiver();
    const b = await receiver();
    const ep = await endpoint(ws, { url: a.url, eventTypes: ['subscription.*'] });
    await endpoint(ws, { url: b.url });
    assert.equal((await call('POST', ws, `/endpoints/${ep.id}/test`, {})).status, 202);
    await waitFor(async () => a.requests.length === 1, 'test delivery');
    assert.equal(JSON.parse(a.requests[0]!.body).type, 'sluice.test');
    assert.equal(b.requests.length, 0);

    for (const bad of [
      { url: 'not a url' },
      { url: 'ftp://example.com' },
      { url: 'https://user:pw@example.com/' },
      { url: a.url, eventTypes: ['Bad Type'] },
      { url: a.url, rateLimit: 0 },
      { url: a.url, headers: { 'webhook-signature': 'x' } },
      { url: a.url, headers: { 'x-ok': 'line\nbreak' } },
      { url: a.url, headers: { 'x-ok': 'bell\u0007' } },
      { url: a.url, headers: { 'x-ok': 'del\u007f' } },
      { url: a.url, headers: { 'x-ok': 'smile \ud83d\ude00' } },
      { url: a.url, secret: 'whsec_short' },
    ]) {
      const res = await call('POST', ws, '/endpoints', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
    const patched = await call('PATCH', ws, `/endpoints/${ep.id}`, { enabled: false, headers: { authorization: 'Bearer abc' } });
    assert.equal(patched.body.enabled, false);
    assert.deepEqual(patched.body.headerNames, ['authorization']);
    assert.equal(JSON.stringify(patched.body).includes('Bearer abc'), false);
  });
});

describe('an endpoint failing too long', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({
      config: { outboundAllow: LOOPBACK, retrySchedule: [0, 0.6, 0.6, 0.6, 0.6], endpointDisableAfterSeconds: 1 },
    });
  });
  after(() => app.close());

  test('is disabled with an incident, announced as incident.opened; re-enabling resolves it', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'incidents' })).body.id;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    const failing = await startReceiver(() => ({ status: 500 }));
    const ops = await startReceiver();
    try {
      const bad = (
        await call('POST', '/endpoints', { url: `${failing.url}/hooks/T0/B0/capability?token=secret-in-url`, eventTypes: ['course.*'] })
      ).body;
      await call('POST', '/endpoints', { url: ops.url, eventTypes: ['incident.*'] });
      await call('POST', '/events', { type: 'course.enrolled', data: {} });
      await waitFor(async () => (await call('GET', `/endpoints/${bad.id}`)).body.enabled === false, 'disabled after failing too long');
      const health = (await call('GET', '/health')).body.outbound;
      assert.equal(health.openIncidents.length, 1);
      assert.equal(health.openIncidents[0].endpointId, bad.id);
      await waitFor(async () => ops.requests.some((r) => JSON.parse(r.body).type === 'incident.opened'), 'incident.opened delivered');
      // What goes out names the endpoint and where it points, never the path or query a receiver URL keeps its secret in.
      const opened = JSON.parse(ops.requests.find((r) => JSON.parse(r.body).type === 'incident.opened')!.body);
      assert.match(
        opened.data.incident.title,
        new RegExp(`^Endpoint ${bad.id} \\(${failing.url.replace(/[.]/g, '\\.')}\\) failed every delivery for 1 minute`),
      );
      for (const secret of ['capability', 'secret-in-url']) assert.ok(!ops.requests.some((r) => r.body.includes(secret)), secret);
      assert.equal((await call('GET', `/endpoints/${bad.id}`)).body.disabledReason, 'failing for 1 minute');

      assert.equal((await call('PATCH', `/endpoints/${bad.id}`, { enabled: true })).body.enabled, true);
      assert.deepEqual((await call('GET', '/health')).body.outbound.openIncidents, []);
      await waitFor(async () => ops.requests.some((r) => JSON.parse(r.body).type === 'incident.resolved'), 'incident.resolved delivered');
    } finally {
      await failing.close();
      await ops.close();
    }
  });
});

describe('outbound address policy', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: [] } });
  });
  after(() => app.close());

  test('private, loopback and link-local destinations are refused without SLUICE_OUTBOUND_ALLOW', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'ssrf' })).body.id;
    for (const url of [
      'http://127.0.0.1:9/',
      'http://localhost:9/',
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/',
      'http://[::1]:9/',
    ]) {
      const res = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url });
      assert.equal(res.status, 400, url);
      assert.match(res.body.error.message, /SLUICE_OUTBOUND_ALLOW/);
    }
  });
});
