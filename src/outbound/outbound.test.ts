// The pure parts of outbound delivery, and the sender against real local sockets.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createAddressPolicy } from './address-policy.js';
import { nextAttemptDelay, parseRetryAfter } from './backoff.js';
import { matchesEventType } from './event-filter.js';
import { createSender } from './send.js';
import { generateEndpointSecret, isEndpointSecret, signatureHeader } from './sign.js';

describe('signing', () => {
  test('headers verify with the reference standardwebhooks library, for each secret of a rotation', () => {
    const [a, b] = [generateEndpointSecret(), generateEndpointSecret()];
    assert.ok(isEndpointSecret(a));
    const body = JSON.stringify({ id: 'msg_1', type: 'x.y', data: { ü: '✓' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader({ id: 'msg_1', timestamp, body, secrets: [a, b] }),
    };
    for (const s of [a, b]) assert.deepEqual(new Webhook(s).verify(body, headers), JSON.parse(body));
    assert.throws(() => new Webhook(generateEndpointSecret()).verify(body, headers));
    assert.throws(() => new Webhook(a).verify(body.replace('x.y', 'x.z'), headers));
    assert.equal(isEndpointSecret('whsec_dG9vc2hvcnQ='), false);
  });
});

describe('event filter', () => {
  test('exact names, prefix.* at any depth, * and empty', () => {
    assert.equal(matchesEventType([], 'anything.at.all'), true);
    assert.equal(matchesEventType(['*'], 'a.b'), true);
    assert.equal(matchesEventType(['subscription.*'], 'subscription.canceled'), true);
    assert.equal(matchesEventType(['subscription.*'], 'subscriptions.x'), false);
    assert.equal(matchesEventType(['stripe.customer.*'], 'stripe.customer.subscription.created'), true);
    assert.equal(matchesEventType(['order.completed'], 'order.refunded'), false);
  });
});

describe('backoff', () => {
  test('schedule with ±20% jitter, Retry-After honoured, null when used up', () => {
    const schedule = [0, 5, 300];
    assert.equal(
      nextAttemptDelay(schedule, 1, null, () => 0),
      4,
    );
    assert.equal(
      nextAttemptDelay(schedule, 1, null, () => 1),
      6,
    );
    assert.equal(
      nextAttemptDelay(schedule, 2, null, () => 0.5),
      300,
    );
    assert.equal(nextAttemptDelay(schedule, 3, null), null);
    assert.equal(
      nextAttemptDelay(schedule, 1, 120, () => 0.5),
      120,
      'waits at least what the receiver asked',
    );
    assert.equal(
      nextAttemptDelay(schedule, 2, 10, () => 0.5),
      300,
      'never sooner than the schedule',
    );
    assert.equal(
      nextAttemptDelay(schedule, 1, 10 ** 9, () => 0.5),
      86_400,
      'capped at a day',
    );
    assert.equal(parseRetryAfter('30', 0), 30);
    assert.equal(parseRetryAfter(new Date(60_000).toUTCString(), 0), 60);
    assert.equal(parseRetryAfter('soon', 0), null);
  });
});

describe('address policy', () => {
  test('private, loopback, link-local and mapped addresses are refused unless allowed', () => {
    const strict = createAddressPolicy([]);
    for (const ip of [
      '127.0.0.1',
      '10.0.0.8',
      '172.20.1.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd12::1',
      '::ffff:127.0.0.1',
    ]) {
      assert.ok(strict.refuse(ip), ip);
    }
    for (const ip of ['93.184.216.34', '2606:2800:220:1::1', '::ffff:93.184.216.34']) assert.equal(strict.refuse(ip), null, ip);
    const allowLoopback = createAddressPolicy([{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }]);
    assert.equal(allowLoopback.refuse('127.0.0.1'), null);
    assert.ok(allowLoopback.refuse('10.0.0.1'));
  });
});

describe('sender', () => {
  let server: http.Server;
  let port = 0;
  const seen: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/elsewhere' });
        return res.end();
      }
      if (req.url === '/big') return res.end('x'.repeat(100_000));
      if (req.url === '/slow') return; // never answers
      res.writeHead(200, { 'retry-after': '7' });
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('a name that resolves to a refused address is blocked at send time, before connecting', async () => {
    const sender = createSender(createAddressPolicy([]), { timeoutMs: 2000 });
    const before = seen.length;
    for (const url of [`http://localhost:${port}/`, `http://127.0.0.1:${port}/`]) {
      const r = await sender.send(url, {}, '{}');
      assert.equal(r.answered, false);
      assert.ok(!r.answered && r.blocked, url);
      assert.match(!r.answered ? r.error : '', /blocked/);
    }
    assert.equal(seen.length, before, 'no request reached the server');
    sender.close();
  });

  test('answers: redirects not followed, excerpt capped at 4 KiB, timeout reported', async () => {
    const sender = createSender(createAddressPolicy([{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }]), { timeoutMs: 500 });
    const redirect = await sender.send(`http://localhost:${port}/redirect`, {}, '{}');
    assert.ok(redirect.answered && redirect.status === 302);
    assert.equal(seen.includes('/elsewhere'), false);
    const big = await sender.send(`http://127.0.0.1:${port}/big`, {}, '{}');
    assert.ok(big.answered && big.excerpt.length === 4096);
    const ok = await sender.send(`http://127.0.0.1:${port}/`, {}, '{}');
    assert.ok(ok.answered && ok.status === 200 && ok.retryAfter === '7');
    const slow = await sender.send(`http://127.0.0.1:${port}/slow`, {}, '{}');
    assert.ok(!slow.answered && /no answer within 500 ms/.test(slow.error));
    const refused = await sender.send('http://127.0.0.1:1/', {}, '{}');
    assert.ok(!refused.answered && /ECONNREFUSED/.test(refused.error));
    sender.close();
  });
});
