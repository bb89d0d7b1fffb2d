// The pure parts of outbound delivery, and the sender against real local sockets.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { parseCidrs } from '../lib/cidr.js';
import { createAddressPolicy } from './address-policy.js';
import { nextAttemptDelay, parseRetryAfter } from './backoff.js';
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
  const strict = createAddressPolicy([]);
  test('every special range is refused, also when written as IPv6 that embeds an IPv4 address', () => {
    for (const ip of [
      '127.0.0.1',
      '10.0.0.8',
      '172.20.1.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.1',
      '192.0.2.1',
      '::',
      '::1',
      'fe80::1',
      'fd00::1',
      'fd12::1',
      'ff02::1',
      '2001:db8::1',
      '::7f00:1', // IPv4-compatible = 127.0.0.1
      '[::7f00:1]',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:0:7f00:1', // SIIT (rfc6145)
      '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254
      '2002:7f00:1::', // 6to4 of 127.0.0.1
      '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo, client 127.0.0.1
    ]) {
      assert.ok(strict.refuse(ip), ip);
    }
    assert.match(strict.refuse('::7f00:1')!, /= 127\.0\.0\.1\) is a loopback address/);
    assert.match(strict.refuse('100.64.0.1')!, /carrier-grade NAT/);
    assert.match(strict.refuse('0x7f.1')!, /not an IP address/, 'only normalized text is judged');
  });

  test('public unicast passes, directly or embedded', () => {
    for (const ip of ['93.184.216.34', '2606:2800:220:1::1', '::ffff:93.184.216.34', '64:ff9b::5db8:d822', '2002:5db8:d822::1']) {
      assert.equal(strict.refuse(ip), null, ip);
    }
  });

  test('SLUICE_OUTBOUND_ALLOW opens chosen ranges, v4 and v6, and embedded forms of them', () => {
    const allow = createAddressPolicy([
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: 'fd00::', prefix: 8, family: 'ipv6' },
    ]);
    for (const ip of ['127.0.0.1', '::ffff:127.0.0.1', 'fd00::1']) assert.equal(allow.refuse(ip), null, ip);
    for (const ip of ['10.0.0.1', '::1', 'fe80::1']) assert.ok(allow.refuse(ip), ip);
  });

  test('plain http only inside SLUICE_OUTBOUND_ALLOW or with SLUICE_OUTBOUND_ALLOW_HTTP', () => {
    const allow = createAddressPolicy([{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }]);
    assert.equal(allow.refusePlainHttp('127.0.0.1'), null);
    assert.match(allow.refusePlainHttp('93.184.216.34')!, /SLUICE_OUTBOUND_ALLOW_HTTP=true/);
    assert.equal(createAddressPolicy([], { allowHttp: true }).refusePlainHttp('93.184.216.34'), null);
    assert.ok(createAddressPolicy([], { allowHttp: true }).refusePlainHttp('10.0.0.1'), 'private stays refused');
  });
});

describe('CIDR configuration', () => {
  test('v4 and v6 with or without a prefix; anything else is a problem', () => {
    const { cidrs, problems } = parseCidrs('127.0.0.0/8, fd00::/8, 10.1.2.3, 0x7f.1/8, 10.0.0.0/33, ::1/129, nope');
    assert.deepEqual(
      cidrs.map((c) => `${c.address}/${c.prefix}`),
      ['127.0.0.0/8', 'fd00::/8', '10.1.2.3/32'],
    );
    assert.equal(problems.length, 4);
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
      if (req.url === '/nul') return res.end('bad\0answer');
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

  test('plain http to an address outside SLUICE_OUTBOUND_ALLOW is blocked at send time', async () => {
    const sender = createSender(createAddressPolicy([{ address: '10.0.0.0', prefix: 8, family: 'ipv4' }]), { timeoutMs: 2000 });
    const r = await sender.send('http://93.184.216.34/', {}, '{}');
    assert.ok(!r.answered && r.blocked && /https/.test(r.error), JSON.stringify(r));
    const normalized = await sender.send('http://2130706433:9/', {}, '{}');
    assert.ok(!normalized.answered && normalized.blocked && /127\.0\.0\.1/.test(normalized.error), 'decimal host seen as 127.0.0.1');
    sender.close();
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
    const nul = await sender.send(`http://127.0.0.1:${port}/nul`, {}, '{}');
    assert.ok(nul.answered && nul.excerpt === 'bad\uFFFDanswer', 'a NUL in the answer is made storable');
    const badHeader = await sender.send(`http://127.0.0.1:${port}/`, { 'x-bad': 'a\u0001b' }, '{}');
    assert.ok(!badHeader.answered && /header/i.test(badHeader.error), 'a header Node refuses is a failed attempt, not a throw');
    const refused = await sender.send('http://127.0.0.1:1/', {}, '{}');
    assert.ok(!refused.answered && /ECONNREFUSED/.test(refused.error));
    sender.close();
  });
});
