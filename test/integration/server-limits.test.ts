// Resource limits of the HTTP server: slow clients are cut off at their deadline, connections beyond the cap
// are refused, and the service keeps answering while the attack goes on.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** A client that sends a request one byte at a time; resolves when the server closes the connection. */
function trickle(port: number, request: string, everyMs: number): { closed: Promise<number>; stop(): void } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.on('data', () => {});
  const opened = Date.now();
  let i = 0;
  const timer = setInterval(() => {
    if (i < request.length && !socket.destroyed) socket.write(request[i++]!);
  }, everyMs);
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve(Date.now() - opened);
    }),
  );
  return { closed, stop: () => socket.destroy() };
}

describe('server limits', () => {
  let app: TestApp;
  let port: number;

  before(async () => {
    app = await startTestApp({ worker: false, config: { headersTimeoutMs: 2000, requestTimeoutMs: 3000, maxConnections: 60 } });
    port = Number(new URL(app.url).port);
  });
  after(() => app.close());

  test('a URL over 16 KiB is 414 URL_TOO_LONG; headers over 16 KiB are 431 HEADERS_TOO_LARGE', async () => {
    const long = await fetch(`${app.url}/webhooks/piano/ws_x?data=${'a'.repeat(20_000)}`);
    assert.equal(long.status, 414);
    assert.equal(((await long.json()) as any).error.code, 'URL_TOO_LONG');
    const big = await fetch(`${app.url}/healthz`, { headers: { 'x-big': 'b'.repeat(20_000) } });
    assert.equal(big.status, 431);
    assert.equal(((await big.json()) as any).error.code, 'HEADERS_TOO_LARGE');
  });

  test('unparseable HTTP pipelined behind a request still being answered: no error passes for that answer', async () => {
    // The webhook waits for its database lookup while the garbage behind it is parsed at once. The error used to be
    // written at once too, and the client read it as the answer to its webhook.
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.setEncoding('latin1').on('data', (d: string) => (received += d));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const body = '{"id":"evt_pipelined","object":"event"}';
    socket.write(
      `POST /webhooks/stripe/ws_pipelined0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}GARBAGE\u0000 / HTTP/1.1\r\n\r\n`,
    );
    await closed;
    assert.ok(!received.startsWith('HTTP/1.1 400'), `the first answer read was: ${received.split('\r\n')[0]}`);
    // The server goes on.
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
  });

  test('a client trickling its headers is cut off; the service keeps answering meanwhile', async () => {
    const slow = Array.from({ length: 40 }, () => trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200), 100));
    await new Promise((r) => setTimeout(r, 200));
    const health = await fetch(`${app.url}/healthz`);
    assert.equal(health.status, 200, 'healthz answers while 40 slow clients are connected');
    // 200 bytes at 10 bytes/s would take 20 s; the headers deadline (2 s) closes every one of them long before.
    const lifetimes = await Promise.all(slow.map((s) => s.closed));
    for (const ms of lifetimes) assert.ok(ms < 10_000, `a slow client was held ${ms} ms`);
  });

  test('a client trickling its body is cut off at the request deadline', async () => {
    const head = `POST /webhooks/stripe/ws_x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(head);
    const timer = setInterval(() => socket.destroyed || socket.write('a'), 100);
    const opened = Date.now();
    await new Promise((resolve) => socket.on('close', resolve));
    clearInterval(timer);
    assert.ok(Date.now() - opened < 10_000, 'the body would take 10,000 s at this pace; the request deadline ends it');
  });

  test('connections beyond the cap are refused at once, and freed slots serve again', async () => {
    const held = Array.from({ length: 70 }, () => trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200), 100));
    const lifetimes = await Promise.all(held.map((h) => h.closed));
    // Those within the cap live until their headers deadline (2 s); those over it (10, or a few more when the
    // client's own keep-alive connections hold slots) are closed on arrival.
    const refused = lifetimes.filter((ms) => ms < 1000);
    assert.ok(refused.length >= 10 && refused.length <= 15, `closed at once: ${refused.length} of 70 (${lifetimes.join(',')})`);
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
  });
});
