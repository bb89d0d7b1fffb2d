// The inbound lookup cache (workspace, connection, decrypted secrets) never lets a change go unnoticed: in the
// instance that made it at once, and in another instance on the same PostgreSQL through NOTIFY — with the
// cache's TTL set to an hour here, so nothing in these tests can pass by expiry. A secret added on one
// instance is accepted by the other on the very next request (verification retried against a fresh read).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inboundCache } from '../../src/services/ingest/inbound-runtime.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore, usingPostgres, type TestStore } from '../helpers/db.js';
import { pianoData, sendPiano } from '../helpers/piano.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const S1 = 'whsec_cache_secret_one';
const S2 = 'whsec_cache_secret_two';
const AID = 'AppCache01';
const K1 = 'PianoCacheKeyOne0123456789abcdefghijklm';
const K2 = 'PianoCacheKeyTwo0123456789abcdefghijklm';

const longTtl = (app: TestApp) => (inboundCache(app.ctx).options = { ttlMs: 3_600_000, maxEntries: 100 });
const stripeTo = (app: TestApp, ws: string, secret: string) => {
  const payload = stripeEvent('customer.updated');
  return postStripe(app.url, ws, payload, signStripe(payload, secret));
};
const pianoTo = (app: TestApp, ws: string, key: string) =>
  sendPiano(app.url, ws, pianoData({ version: 2, type: 'access_granted', aid: AID, uid: `u_${Math.random()}`, access_id: 'a' }, key));

describe('inbound cache, one instance', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
    longTtl(app);
  });
  after(() => app.close());

  test('secret rotation, Piano key change, demo flag and workspace delete take effect on the next request', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Cache' })).body.id;
    assert.equal((await stripeTo(app, ws, S1)).status, 404, 'not connected yet');
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [S1] });
    assert.equal((await stripeTo(app, ws, S1)).status, 200, 'connected: the cached "not connected" is gone');

    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [S2] });
    assert.equal((await stripeTo(app, ws, S1)).status, 400, 'the rotated-out secret is refused at once');
    assert.equal((await stripeTo(app, ws, S2)).status, 200);

    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: AID, privateKey: K1 });
    assert.equal((await pianoTo(app, ws, K1)).status, 200);
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { privateKey: K2 });
    assert.equal((await pianoTo(app, ws, K1)).status, 400, 'the old Piano key is refused at once');
    assert.equal((await pianoTo(app, ws, K2)).status, 200);

    // Demo mode ignores live events: the cached flag must follow the change.
    await app.api('PATCH', `/api/v1/workspaces/${ws}`, { demo: true });
    const live = stripeEvent('customer.updated', {}, { livemode: true });
    assert.equal((await postStripe(app.url, ws, live, signStripe(live, S2))).status, 200);
    const { rows } = await app.db.query<{ status: string }>('SELECT status FROM events WHERE provider_event_id = $1', [
      JSON.parse(live).id,
    ]);
    assert.equal(rows[0]!.status, 'ignored', 'stored as ignored: the workspace is a demo now');

    assert.equal((await app.api('DELETE', `/api/v1/workspaces/${ws}?confirm=${ws}`)).status, 200);
    const gone = await stripeTo(app, ws, S2);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'WORKSPACE_NOT_FOUND');
  });
});

describe('inbound cache, two instances on one PostgreSQL', { skip: !usingPostgres && 'needs a PostgreSQL server (DATABASE_URL)' }, () => {
  let store: TestStore;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    store = await createTestStore();
    // Both listen for changes, as `sluice start` does with DATABASE_URL.
    a = await startTestApp({ store, worker: false, config: { databaseUrl: store.databaseUrl } });
    b = await startTestApp({ store, worker: false, config: { databaseUrl: store.databaseUrl } });
    longTtl(a);
    longTtl(b);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await store?.drop();
  });

  test('a secret added through A is accepted by B immediately; a removed one refused once B hears of it', async () => {
    const ws = (await a.api('POST', '/api/v1/workspaces', { name: 'Two' })).body.id;
    await a.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [S1] });
    assert.equal((await stripeTo(b, ws, S1)).status, 200, 'B now holds [S1] in its cache');

    await a.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [S1, S2] });
    assert.equal((await stripeTo(b, ws, S2)).status, 200, 'the secret added a moment ago on A verifies on B at once');

    await a.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [S2] });
    // Told by NOTIFY (the TTL is an hour): B stops accepting S1.
    await waitFor(async () => (await stripeTo(b, ws, S1)).status === 400, 'B to refuse the rotated-out secret');
    assert.equal((await stripeTo(b, ws, S2)).status, 200);
  });

  test('a Piano key changed through A; a workspace deleted through A', async () => {
    const ws = (await a.api('POST', '/api/v1/workspaces', { name: 'Two Piano' })).body.id;
    await a.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: AID, privateKey: K1 });
    assert.equal((await pianoTo(b, ws, K1)).status, 200);
    await a.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { privateKey: K2 });
    assert.equal((await pianoTo(b, ws, K2)).status, 200, 'the new key verifies on B at once');
    await waitFor(async () => (await pianoTo(b, ws, K1)).status === 400, 'B to refuse the old key');

    await a.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [S1] });
    assert.equal((await stripeTo(b, ws, S1)).status, 200);
    assert.equal((await a.api('DELETE', `/api/v1/workspaces/${ws}?confirm=${ws}`)).status, 200);
    const gone = await waitFor(async () => {
      const r = await stripeTo(b, ws, S1);
      return r.status === 404 && r;
    }, 'B to know the workspace is gone');
    assert.equal(gone.body.error.code, 'WORKSPACE_NOT_FOUND');
  });
});
