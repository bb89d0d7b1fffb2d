// Stripe webhooks are answered from Node's HTTP server without going through Fastify (src/http/webhook-fast-path.ts).
// What it takes must be answered exactly as the Fastify route answers it, and what it leaves must reach Fastify
// untouched. The same requests go both ways here: without a query string (the fast path) and with one (Fastify's
// route, which ignores the query), and the answers are compared.
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stripeWebhookFastPath } from '../../src/http/webhook-fast-path.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_fast_path_secret';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (fetch would add its own). */
function send(base: string, path: string, headers: Record<string, string>, body: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What a client may compare: the status, the body and the headers but the date. */
function comparable(a: Answer) {
  const { date: _date, ...headers } = a.headers;
  return { status: a.status, headers, body: a.body };
}

describe('the Stripe webhook fast path', () => {
  let app: TestApp;
  let ws: string;
  let unconnected: string;

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Fast path' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    unconnected = (await app.api('POST', '/api/v1/workspaces', { name: 'Not connected' })).body.id;
  });
  after(async () => {
    await app.close();
  });

  /** The same kind of request both ways, each with its own event (a second send of one event is a duplicate). */
  async function bothWays(make: () => { path: string; headers: Record<string, string>; body: string | Buffer }) {
    const fast = make();
    const slow = make();
    const viaFast = await send(app.url, fast.path, fast.headers, fast.body);
    const viaFastify = await send(app.url, `${slow.path}?via=fastify`, slow.headers, slow.body);
    return { viaFast, viaFastify };
  }

  const signed = (payload = stripeEvent('customer.updated', { email: 'a@example.com' }), secret = SECRET) => ({
    path: `/webhooks/stripe/${ws}`,
    headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, secret) },
    body: payload,
  });

  test('a new event, then the same again: the same answers and headers both ways', async () => {
    const { viaFast, viaFastify } = await bothWays(() => signed());
    assert.equal(viaFast.status, 200);
    assert.deepEqual(comparable(viaFast), comparable(viaFastify));
    assert.deepEqual(JSON.parse(viaFast.body), { received: true });

    const payload = stripeEvent('customer.updated');
    const first = await send(app.url, `/webhooks/stripe/${ws}`, signed(payload).headers, payload);
    const again = await send(app.url, `/webhooks/stripe/${ws}`, signed(payload).headers, payload);
    const againViaFastify = await send(app.url, `/webhooks/stripe/${ws}?via=fastify`, signed(payload).headers, payload);
    assert.deepEqual(JSON.parse(first.body), { received: true });
    assert.deepEqual(JSON.parse(again.body), { received: true, duplicate: true });
    assert.deepEqual(comparable(again), comparable(againViaFastify));
    const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE provider_event_id = $1', [
      JSON.parse(payload).id,
    ]);
    assert.equal(rows[0]!.n, 1, 'one row for the event sent three times');
  });

  test('refusals and media types: the same status, code and words both ways', async () => {
    const cases: [string, () => { path: string; headers: Record<string, string>; body: string | Buffer }][] = [
      ['a wrong secret', () => signed(undefined, 'whsec_someone_else')],
      ['no signature', () => ({ ...signed(), headers: { 'content-type': 'application/json' } })],
      ['a malformed signature', () => ({ ...signed(), headers: { 'content-type': 'application/json', 'stripe-signature': 'nonsense' } })],
      ['an unknown workspace', () => ({ ...signed(), path: '/webhooks/stripe/ws_doesnotexist0' })],
      ['a workspace without Stripe', () => ({ ...signed(), path: `/webhooks/stripe/${unconnected}` })],
      [
        'a signed body that is not an event',
        () => {
          const body = '{"not":"an event"';
          return {
            path: `/webhooks/stripe/${ws}`,
            headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(body, SECRET) },
            body,
          };
        },
      ],
      ['an empty body', () => ({ ...signed(''), body: '' })],
      // Media types: Stripe's own two spellings are taken, anything else is Fastify's (malformed ones get its 415).
      ...[
        'application/json; charset=utf-8',
        'Application/JSON;charset="UTF-8"',
        'application/json, text/plain',
        'json',
        '',
        'text/plain',
      ].map((type): [string, () => { path: string; headers: Record<string, string>; body: string | Buffer }] => [
        `Content-Type: ${type}`,
        () => {
          const r = signed();
          return { ...r, headers: { ...r.headers, 'content-type': type } };
        },
      ]),
    ];
    for (const [what, make] of cases) {
      const { viaFast, viaFastify } = await bothWays(make);
      assert.deepEqual(comparable(viaFast), comparable(viaFastify), what);
    }
  });

  test('the requests it leaves to Fastify are answered as before', async () => {
    const payload = stripeEvent('customer.updated');
    const sig = signStripe(payload, SECRET);
    // A malformed workspace id: the route's validation.
    const badId = await send(
      app.url,
      '/webhooks/stripe/WS-upper',
      { 'content-type': 'application/json', 'stripe-signature': sig },
      payload,
    );
    assert.equal(badId.status, 400);
    assert.equal(JSON.parse(badId.body).error.code, 'VALIDATION_FAILED');
    // Over the body limit.
    const big = await send(
      app.url,
      `/webhooks/stripe/${ws}`,
      { 'content-type': 'application/json', 'stripe-signature': sig },
      Buffer.alloc(app.ctx.config.maxBodyBytes + 1, 0x20),
    );
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body).error.code, 'PAYLOAD_TOO_LARGE');
    // A signature header longer than the route's schema takes.
    const longSig = await send(
      app.url,
      `/webhooks/stripe/${ws}`,
      { 'content-type': 'application/json', 'stripe-signature': 'v'.repeat(9000) },
      payload,
    );
    assert.equal(longSig.status, 400);
    assert.equal(JSON.parse(longSig.body).error.code, 'VALIDATION_FAILED');
    // A chunked body (no Content-Length) is still taken, by Fastify.
    const chunked = await send(
      app.url,
      `/webhooks/stripe/${ws}`,
      { 'content-type': 'application/json', 'stripe-signature': sig, 'transfer-encoding': 'chunked' },
      payload,
    );
    assert.equal(chunked.status, 200, chunked.body);
    // Another method.
    const get = await fetch(`${app.url}/webhooks/stripe/${ws}`);
    assert.equal(get.status, 404);
  });

  test('what it takes and what it leaves, and a client that hangs up mid-body', async () => {
    const fastPath = stripeWebhookFastPath(app.ctx, () => false);
    let leftToFastify = 0;
    const server = http.createServer((req, res) => {
      if (fastPath(req, res)) return;
      leftToFastify += 1;
      req.resume();
      res.writeHead(299).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = signed();
      assert.equal((await send(base, ok.path, ok.headers, ok.body)).status, 200);
      assert.equal(leftToFastify, 0);
      const left: [string, string, Record<string, string>][] = [
        ['a query string', `${ok.path}?x=1`, ok.headers],
        ['a malformed id', '/webhooks/stripe/ws_UPPER', ok.headers],
        ['a trailing slash', `${ok.path}/`, ok.headers],
        ['no content type', ok.path, { 'stripe-signature': ok.headers['stripe-signature'] }],
        ['a malformed content type', ok.path, { ...ok.headers, 'content-type': 'application/json garbage' }],
        ['an Expect header', ok.path, { ...ok.headers, expect: '100-continue' }],
        ['a Piano webhook', `/webhooks/piano/${ws}`, ok.headers],
      ];
      for (const [what, path, headers] of left) {
        const count: number = leftToFastify;
        const res = await send(base, path, headers, ok.body);
        assert.equal(res.status, 299, what);
        assert.equal(leftToFastify, count + 1, what);
      }

      // A body cut short: nothing is stored, nothing answered, and the server goes on.
      const cut = signed();
      await new Promise<void>((resolve) => {
        const req = http.request(`${base}${cut.path}`, {
          method: 'POST',
          headers: { ...cut.headers, 'content-length': String(Buffer.byteLength(cut.body) + 100) },
          agent: false,
        });
        req.on('error', () => resolve());
        req.write(cut.body, () => setTimeout(() => (req.destroy(), resolve()), 50));
      });
      const next = signed();
      assert.equal((await send(base, next.path, next.headers, next.body)).status, 200, 'the next request is answered');
      const ids = [cut, next].map((c) => JSON.parse(c.body as string).id as string);
      const { rows } = await app.db.query<{ id: string }>('SELECT provider_event_id AS id FROM events WHERE provider_event_id = ANY($1)', [
        ids,
      ]);
      assert.deepEqual(
        rows.map((r) => r.id),
        [ids[1]],
      );

      // Closing: everything goes to Fastify, which answers 503 for requests that arrive then.
      let closing = false;
      const whileClosing = stripeWebhookFastPath(app.ctx, () => closing);
      closing = true;
      const fake = Object.assign(new http.IncomingMessage(null as never), { method: 'POST', url: ok.path, headers: ok.headers });
      assert.equal(whileClosing(fake, null as never), false);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
