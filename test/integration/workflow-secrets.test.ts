// Workspace secrets for workflows: a value is one line that a URL or an HTTP header can carry (a CR/LF stored
// there failed every send later), and a secret can be deleted, by an admin, with a 404 when there is none.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('workflow secrets', () => {
  let app: TestApp;
  let ws: string;
  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'secrets' })).body.id as string;
  });
  after(() => app.close());

  const call = (method: string, path: string, body?: unknown, token?: string) =>
    app.api(method, `/api/v1/workspaces/${ws}${path}`, body, token);
  const names = async () => (await call('GET', '/secrets')).body.data.map((s: { name: string }) => s.name) as string[];

  test('a value with a line break or another control character is a 400 naming value, and is not stored or quoted', async () => {
    for (const value of ['tok-123\n', 'tok\r\nX-Injected: 1', 'a\u0001b', 'del\u007f', 'esc\u001b[0m', 'c1\u0085']) {
      const res = await call('PUT', '/secrets/BROKEN', { value });
      assert.equal(res.status, 400, JSON.stringify(value));
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      assert.equal(res.body.error.field, 'value');
      assert.match(res.body.error.message, /^value must not contain control characters other than tab \(U\+[0-9A-F]{4}[ )]/);
      for (const part of value.split(/[\p{Cc}]/u).filter((p) => p.length > 2)) {
        assert.ok(!JSON.stringify(res.body).includes(part), `the answer quotes the value: ${JSON.stringify(res.body)}`);
      }
    }
    const trailing = await call('PUT', '/secrets/BROKEN', { value: 'tok-123\n' });
    assert.match(
      trailing.body.error.message,
      /\(U\+000A at its end: remove the trailing line break\)/,
      'a pasted or echoed trailing newline is named as such',
    );
    assert.deepEqual(await names(), []);
    // A tab is a character a header value may hold; printable Unicode goes into URLs percent-encoded.
    for (const [name, value] of [
      ['TABBED', 'Bearer\tabc'],
      ['UNICODE', 'pässwörd-🔑'],
    ]) {
      assert.equal((await call('PUT', `/secrets/${name}`, { value })).status, 200, name);
    }
    assert.deepEqual(await names(), ['TABBED', 'UNICODE']);
  });

  test('DELETE removes a secret (admin only): 204, then 404 SECRET_NOT_FOUND', async () => {
    assert.equal((await call('PUT', '/secrets/GONE', { value: 'to-be-deleted' })).status, 200);
    const member = (await call('POST', '/api-keys', { name: 'ops', role: 'member' })).body.key as string;
    const refused = await call('DELETE', '/secrets/GONE', undefined, member);
    assert.equal(refused.status, 403);
    assert.ok((await names()).includes('GONE'));

    const deleted = await call('DELETE', '/secrets/GONE');
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, undefined);
    assert.ok(!(await names()).includes('GONE'));

    const again = await call('DELETE', '/secrets/GONE');
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'SECRET_NOT_FOUND');
    assert.match(again.body.error.message, /GONE/);
    assert.equal((await call('DELETE', '/secrets/1BAD')).status, 400);
    assert.equal((await app.api('DELETE', '/api/v1/workspaces/ws_missing/secrets/GONE')).status, 404);
    // Stored again under the same name, it is a new secret.
    assert.equal((await call('PUT', '/secrets/GONE', { value: 'back' })).body.created, true);
  });

  test('storing or replacing a secret is in the audit log (who, which name, created or replaced), never its value', async () => {
    const admin = (await call('POST', '/api-keys', { name: 'deploy', role: 'admin' })).body;
    const value = 'audit-marker-secret-value-7f3a';
    assert.equal((await call('PUT', '/secrets/AUDITED', { value }, admin.key as string)).body.created, true);
    assert.equal((await call('PUT', '/secrets/AUDITED', { value: `${value}-2` })).body.created, false);
    const log = await call('GET', '/audit-log');
    assert.equal(log.status, 200);
    const entries = (log.body.data as { action: string; target: string; actor: string; detail: Record<string, unknown> }[]).filter(
      (e) => e.target === 'AUDITED',
    );
    assert.deepEqual(
      entries.map((e) => [e.action, e.actor, e.detail]),
      [
        ['workflow.secret.saved', 'admin', { replaced: true }],
        ['workflow.secret.saved', admin.id, { replaced: false }],
      ],
    );
    assert.ok(!JSON.stringify(log.body).includes(value), 'the audit log holds the value');
  });
});
