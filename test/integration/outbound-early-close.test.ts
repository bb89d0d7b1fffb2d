// A receiver that answers 404 as soon as the headers arrive and closes the connection while Sluice is still
// writing a large body (EPIPE / ECONNRESET on the socket). The real server process must stay up, record each
// attempt, retry, and keep taking webhooks.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { processApi, startSluiceProcess } from '../helpers/sluice-process.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const TOKEN = 'outbound_early_close_admin_token_0123';
const SECRET = 'whsec_early_close_test_secret';

const api = processApi(TOKEN);

/** Answers 404 and destroys the socket the moment a request's headers are complete, body or not. */
async function earlyCloser(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.write('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nnot\0 found');
        socket.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
  return {
    url,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test('an early-closing receiver with 250 KB and 1 MiB messages: attempts recorded, retried, process up', { timeout: 120_000 }, async () => {
  const store = await createTestStore();
  const receiver = await earlyCloser();
  const env = {
    ...store.env,
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8',
    SLUICE_RETRY_SCHEDULE: '0,0.3,0.3',
    SLUICE_MAX_BODY_BYTES: String(4 * 1024 * 1024),
  };
  const sluice = await startSluiceProcess(env);
  let exitedEarly: unknown = null;
  void sluice.exited.then((e) => (exitedEarly = e));
  try {
    const ws = (await api(sluice.url, 'POST', '/workspaces', { name: 'early-close' })).body.id as string;
    assert.equal((await api(sluice.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    const ep = await api(sluice.url, 'POST', `/workspaces/${ws}/endpoints`, { url: receiver.url, eventTypes: ['course.*', 'stripe.*'] });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));

    const custom = await api(sluice.url, 'POST', `/workspaces/${ws}/events`, {
      type: 'course.enrolled',
      data: { blob: 'x'.repeat(250_000) },
    });
    assert.equal(custom.status, 201, JSON.stringify(custom.body));
    const payload = stripeEvent('product.created', { id: 'prod_big', name: 'big', metadata: { blob: 'y'.repeat(1024 * 1024) } });
    const stripe = await fetch(`${sluice.url}/webhooks/stripe/${ws}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, SECRET) },
      body: payload,
    });
    assert.equal(stripe.status, 200, await stripe.text());

    // Every attempt of the schedule (3) is made and recorded for both messages, and each ends failed.
    const deliveries = await waitFor(
      async () => {
        const list = (await api(sluice.url, 'GET', `/workspaces/${ws}/endpoints/${ep.body.id}/deliveries`)).body.data as any[];
        return list.length === 2 && list.every((d) => d.status === 'failed') ? list : undefined;
      },
      'both deliveries failed after the whole schedule',
      60_000,
    );
    assert.equal(exitedEarly, null, `the server exited:\n${sluice.output()}`);
    assert.deepEqual(deliveries.map((d) => d.messageType).sort(), ['course.enrolled', 'stripe.product.created']);
    for (const d of deliveries) {
      const detail = (await api(sluice.url, 'GET', `/workspaces/${ws}/deliveries/${d.id}`)).body;
      assert.equal(detail.attemptLog.length, 3, JSON.stringify(detail.attemptLog));
      assert.deepEqual(
        detail.attemptLog.map((a: any) => a.outcome),
        ['retry', 'retry', 'failed'],
      );
      for (const a of detail.attemptLog) {
        // Either the 404 was read before the reset, or the reset came first: both are recorded failures.
        assert.ok(a.statusCode === 404 || /ECONNRESET|EPIPE|socket/i.test(a.error ?? ''), JSON.stringify(a));
      }
    }
    assert.ok(receiver.connections() >= 2, `${receiver.connections()} connections`);

    // Ingest keeps answering after all that.
    const after = stripeEvent('customer.created', { id: 'cus_after', email: 'after@example.com' });
    const res = await fetch(`${sluice.url}/webhooks/stripe/${ws}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(after, SECRET) },
      body: after,
    });
    assert.equal(res.status, 200);
    assert.equal((await fetch(`${sluice.url}/healthz`)).status, 200);
    assert.equal(exitedEarly, null);
  } finally {
    sluice.proc.kill('SIGTERM');
    await sluice.exited;
    await receiver.close();
    await store.drop();
  }
});
