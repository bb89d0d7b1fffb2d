// A receiver that accepts the TCP connection and never completes the TLS handshake: the attempt ends at its own
// time (a workflow http step's timeoutMs, or SLUICE_OUTBOUND_TIMEOUT_MS), not at the connector's 10 s limit. Before,
// undici did not give up a request still waiting for its connection when the attempt's signal fired: a 500 ms step
// waited 10 s, then reported "no answer within 500 ms".
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createAddressPolicy } from './address-policy.js';
import { createSender } from './send.js';

const LOOPBACK = createAddressPolicy([{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }]);

test('a TLS handshake that never completes ends the attempt at its own time', async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
  const sender = createSender(LOOPBACK, { timeoutMs: 60_000 });
  try {
    const started = performance.now();
    const r = await sender.send(url, {}, '{}', 'POST', 500);
    const took = performance.now() - started;
    assert.ok(!r.answered && r.error === 'no answer within 500 ms', JSON.stringify(r));
    assert.ok(took < 2000, `took ${Math.round(took)} ms`);
    assert.ok(r.durationMs < 2000, `durationMs ${r.durationMs}`);

    // The same with the sender's own time shorter than the connector's.
    const short = createSender(LOOPBACK, { timeoutMs: 700 });
    const t2 = performance.now();
    const r2 = await short.send(url, {}, '{}');
    assert.ok(!r2.answered, JSON.stringify(r2));
    assert.ok(performance.now() - t2 < 1500, `took ${Math.round(performance.now() - t2)} ms`);
    short.close();
  } finally {
    sender.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
