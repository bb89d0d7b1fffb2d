// API keys: listed without the key, revoked with immediate effect, and a role stored with each; a viewer key
// reads only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('API keys: list, revoke, roles', () => {
  let app: TestApp;
  let ws: string;
  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Keys' })).body.id;
  });
  after(() => app.close());

  test('the list shows id, name, role, prefix and dates, never the key or its hash', async () => {
    const created = await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'reporting', role: 'viewer' });
    assert.equal(created.status, 201);
    assert.equal(created.body.role, 'viewer');
    const plain = created.body.key as string;
    const list = await app.api('GET', `/api/v1/workspaces/${ws}/api-keys`);
    assert.equal(list.status, 200);
    const listed = list.body.data.find((k: any) => k.id === created.body.id);
    assert.deepEqual(Object.keys(listed).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'role']);
    assert.equal(listed.name, 'reporting');
    assert.equal(listed.lastUsedAt, null);
    assert.ok(plain.startsWith(listed.prefix) && listed.prefix.length < plain.length / 2);
    assert.ok(!JSON.stringify(list.body).includes(plain.slice(12)), 'no part of the key beyond the prefix');

    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`, undefined, plain)).status, 200);
    const after = (await app.api('GET', `/api/v1/workspaces/${ws}/api-keys`)).body.data.find((k: any) => k.id === created.body.id);
    assert.ok(after.lastUsedAt, 'lastUsedAt is set by a request with the key');
  });

  test('answers that carry a secret (a new key, a revealed endpoint secret) and every other API answer are Cache-Control: no-store', async () => {
    // A workspace of its own: the tests below count this file's endpoints.
    const own = (await app.api('POST', '/api/v1/workspaces', { name: 'Cache' })).body.id as string;
    const headersOf = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${app.url}/api/v1/workspaces/${own}${path}`, {
        method,
        headers: { authorization: `Bearer ${app.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, cacheControl: res.headers.get('cache-control'), body: (await res.json()) as any };
    };
    const key = await headersOf('POST', '/api-keys', { name: 'cached?' });
    assert.deepEqual([key.status, key.cacheControl], [201, 'no-store']);
    const ep = await headersOf('POST', '/endpoints', { url: 'https://example.com/hook' });
    assert.deepEqual([ep.status, ep.cacheControl], [201, 'no-store']);
    const reveal = await headersOf('GET', `/endpoints/${ep.body.id}/secret`);
    assert.deepEqual([reveal.status, reveal.cacheControl], [200, 'no-store']);
    assert.deepEqual((await headersOf('GET', '/no-such-route')).cacheControl, 'no-store');
  });

  test('a key defaults to the admin role; an unknown role is refused', async () => {
    const res = await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, {});
    assert.equal(res.status, 201);
    assert.equal(res.body.role, 'admin');
    const bad = await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'owner' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
  });

  test('a revoked key stops working at once', async () => {
    const { id, key } = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'leaked' })).body;
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/events`, undefined, key)).status, 200);
    const revoked = await app.api('DELETE', `/api/v1/workspaces/${ws}/api-keys/${id}`);
    assert.equal(revoked.status, 204);
    const refused = await app.api('GET', `/api/v1/workspaces/${ws}/events`, undefined, key);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'UNAUTHORIZED');
    assert.ok(!(await app.api('GET', `/api/v1/workspaces/${ws}/api-keys`)).body.data.some((k: any) => k.id === id));
    const again = await app.api('DELETE', `/api/v1/workspaces/${ws}/api-keys/${id}`);
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'API_KEY_NOT_FOUND');
  });

  test('a key of another workspace cannot list or revoke this one’s keys', async () => {
    const other = (await app.api('POST', '/api/v1/workspaces', { name: 'Other' })).body.id;
    const otherKey = (await app.api('POST', `/api/v1/workspaces/${other}/api-keys`, {})).body.key;
    const mine = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, {})).body;
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/api-keys`, undefined, otherKey)).status, 404);
    assert.equal((await app.api('DELETE', `/api/v1/workspaces/${ws}/api-keys/${mine.id}`, undefined, otherKey)).status, 404);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`, undefined, mine.key)).status, 200);
  });

  test('a viewer key reads but cannot save secrets, create endpoints or keys, or change the workspace', async () => {
    const viewer = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'viewer' })).body.key;
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/events`, undefined, viewer)).status, 200);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/endpoints`, undefined, viewer)).status, 200);
    for (const [method, path, body] of [
      ['PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_viewer_cannot_save'] }],
      ['POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/hook' }],
      ['POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'admin' }],
      ['PATCH', `/api/v1/workspaces/${ws}`, { name: 'renamed by a viewer' }],
    ] as const) {
      const res = await app.api(method, path, body, viewer);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.error.code, 'FORBIDDEN');
    }
    const stripe = await app.api('GET', `/api/v1/workspaces/${ws}/connections/stripe`);
    assert.notEqual(stripe.body?.webhookSecretCount, 1, 'the viewer’s secret was not saved');
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/endpoints`)).body.data.length, 0);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`)).body.name, 'Keys');
  });

  test('a member key cannot list or revoke keys (admin keys and the admin token can)', async () => {
    const member = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'member' })).body;
    const admin = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'admin' })).body;
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/api-keys`, undefined, member.key)).status, 403);
    assert.equal((await app.api('DELETE', `/api/v1/workspaces/${ws}/api-keys/${admin.id}`, undefined, member.key)).status, 403);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/api-keys`, undefined, admin.key)).status, 200);
    assert.equal((await app.api('DELETE', `/api/v1/workspaces/${ws}/api-keys/${member.id}`, undefined, admin.key)).status, 204);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`, undefined, member.key)).status, 401);
  });

  test('a member key operates but cannot change credentials, endpoints, keys or settings; an admin key can', async () => {
    const member = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'member' })).body.key;
    const admin = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'admin' })).body.key;
    assert.equal(
      (await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_original_secret'] })).status,
      200,
    );
    const adminOnly: Array<[string, string, unknown]> = [
      ['PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_member_replaced'] }],
      ['PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: 'MemberAid1', privateKey: 'x'.repeat(40) }],
      ['POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/hook' }],
      ['POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'admin' }],
      ['PATCH', `/api/v1/workspaces/${ws}`, { name: 'renamed by a member' }],
      ['POST', `/api/v1/workspaces/${ws}/rebuild`, {}],
    ];
    for (const [method, path, body] of adminOnly) {
      const res = await app.api(method, path, body, member);
      assert.equal(res.status, 403, `${method} ${path} with a member key`);
      assert.match(res.body.error.message, /needs an admin key or the admin token \(this key's role is member\)/);
    }
    const conn = await app.api('GET', `/api/v1/workspaces/${ws}/connections/stripe`, undefined, member);
    assert.equal(conn.status, 200, 'a member reads');
    assert.equal(conn.body.webhookSecretCount, 1, 'the signing secret a member tried to replace is still the only one');
    // What a member may do: publish a custom event (operate).
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: {} }, member)).status, 201);
    // An admin key may change settings, create keys and rebuild, within its own workspace.
    assert.equal(
      (
        await app.api(
          'PUT',
          `/api/v1/workspaces/${ws}/connections/stripe`,
          { webhookSecrets: ['whsec_original_secret', 'whsec_rotated_secret'] },
          admin,
        )
      ).status,
      200,
    );
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'viewer' }, admin)).status, 201);
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, {}, admin)).status, 200);
  });
});
