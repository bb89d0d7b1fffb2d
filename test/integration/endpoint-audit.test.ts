// An endpoint's custom headers (an Authorization a receiver checks) and a secret chosen at creation are credentials:
// creating an endpoint and changing one are in the workspace's audit log, by whom, with header names and never values.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCidrs } from '../../src/lib/cidr.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('endpoint changes in the audit log', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false, config: { outboundAllow: parseCidrs('127.0.0.0/8').cidrs } });
  });
  after(() => app.close());

  test('create and PATCH are audited with who, the header names and the fields, never a header value or the secret', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'endpoint audit' })).body.id as string;
    const key = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'ops', role: 'admin' })).body;
    const secret = `whsec_${Buffer.from('endpoint-audit-chosen-secret-0123').toString('base64')}`;
    const created = await app.api(
      'POST',
      `/api/v1/workspaces/${ws}/endpoints`,
      { url: 'http://127.0.0.1:9/in', headers: { Authorization: 'Bearer audit-header-value-1' }, secret },
      key.key as string,
    );
    assert.equal(created.status, 201);
    const ep = created.body.id as string;
    const patched = await app.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${ep}`, {
      headers: { 'X-Api-Key': 'audit-header-value-2' },
      url: 'http://127.0.0.1:9/moved',
    });
    assert.equal(patched.status, 200);

    const log = await app.api('GET', `/api/v1/workspaces/${ws}/audit-log`);
    const entries = (log.body.data as { action: string; actor: string; target: string; detail: Record<string, unknown> }[])
      .filter((e) => e.target === ep)
      .map((e) => [e.action, e.actor, e.detail]);
    assert.deepEqual(entries, [
      ['endpoint.updated', 'admin', { fields: ['headers', 'url'], headerNames: ['x-api-key'] }],
      ['endpoint.created', key.id, { origin: 'http://127.0.0.1:9', headerNames: ['authorization'], secretChosen: true }],
    ]);
    const text = JSON.stringify(log.body);
    for (const value of ['audit-header-value-1', 'audit-header-value-2', secret])
      assert.ok(!text.includes(value), `the log holds ${value}`);
  });

  test('an audit entry that cannot be written leaves no endpoint behind: a retry does not make a second one', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'endpoint audit refused' })).body.id as string;
    await app.db.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action = 'endpoint.created' THEN RAISE EXCEPTION 'audit refused for the test'; END IF; RETURN NEW; END $$`);
    await app.db.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()');
    try {
      const res = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'http://127.0.0.1:9/in' });
      assert.equal(res.status, 500);
    } finally {
      await app.db.query('DROP TRIGGER refuse_audit ON audit_log');
      await app.db.query('DROP FUNCTION refuse_audit()');
    }
    assert.deepEqual((await app.api('GET', `/api/v1/workspaces/${ws}/endpoints`)).body.data, []);
  });
});
