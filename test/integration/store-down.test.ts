// With the database unreachable the inbound route answers 503 (so Stripe retries), never 200.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { openPostgres } from '../../src/db/postgres.js';
import { startTestApp } from '../helpers/app.js';
import { createTestStore, usingPostgres } from '../helpers/db.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_store_down_secret';

/** A TCP relay to PostgreSQL that the test can cut and restore, standing in for a database outage. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async cut() {
      await new Promise<void>((resolve) => {
        server!.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    restore: listen,
  };
}

test('database down: 503 STORE_UNAVAILABLE, readyz 503, nothing acknowledged; back up: 200', async () => {
  const store = await createTestStore();
  let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
  if (usingPostgres) {
    const real = new URL(store.databaseUrl!);
    relay = await startRelay({ host: real.hostname, port: Number(real.port || 5432) });
    const viaRelay = new URL(store.databaseUrl!);
    viaRelay.host = `127.0.0.1:${relay.port}`;
    store.open = () => openPostgres(viaRelay.toString());
  }
  const app = await startTestApp({ store, worker: false });
  try {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Outage' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const before = stripeEvent('customer.created');
    assert.equal((await postStripe(app.url, ws, before, signStripe(before, SECRET))).status, 200);

    if (relay) await relay.cut();
    else await app.db.close(); // the embedded database stops with its handle

    const during = stripeEvent('customer.created');
    const res = await postStripe(app.url, ws, during, signStripe(during, SECRET));
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'STORE_UNAVAILABLE');
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'liveness does not depend on the database');

    if (relay) {
      await relay.restore();
      const after = await postStripe(app.url, ws, during, signStripe(during, SECRET));
      assert.deepEqual(after, { status: 200, body: { received: true } }, 'the retried event is stored once the database is back');
      assert.equal((await fetch(`${app.url}/readyz`)).status, 200);
    }
  } finally {
    await app.close().catch(() => {});
    await relay?.cut().catch(() => {});
    await store.drop();
  }
});
