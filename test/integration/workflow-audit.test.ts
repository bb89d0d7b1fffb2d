// Creating, changing, switching and deleting a workflow are in the workspace's audit log: a definition can send the
// workspace's secrets to any address it names, so who changed one matters as much as who changed a secret. The
// entries say what changed (name, enabled, the version made), never the definition.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

let app: TestApp;
before(async () => {
  app = await startTestApp({ worker: false });
});
after(() => app.close());

test('workflow created, changed, switched off, left unchanged and deleted: one audit entry per change, without the definition', async () => {
  const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'audited workflows' })).body.id as string;
  const call = (method: string, path: string, body?: unknown, token?: string) =>
    app.api(method, `/api/v1/workspaces/${ws}${path}`, body, token);
  const admin = (await call('POST', '/api-keys', { name: 'deploy', role: 'admin' })).body;
  const marker = 'https://collector.example/audit-marker-9d2c';
  const steps = [{ id: 'notify', kind: 'http', url: marker, body: { course: '{{ event.course }}' } }];
  const created = await call('POST', '/workflows', { name: 'Enrolled', trigger: { type: 'course.enrolled' }, steps }, admin.key as string);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  const changedSteps = [{ ...steps[0], url: `${marker}/v2` }];
  assert.equal((await call('PATCH', `/workflows/${id}`, { steps: changedSteps })).status, 200);
  assert.equal((await call('PATCH', `/workflows/${id}`, { enabled: false })).status, 200);
  // The same definition again (an apply of an unchanged file) writes nothing, and so audits nothing.
  assert.equal((await call('PATCH', `/workflows/${id}`, { steps: changedSteps })).status, 200);
  assert.equal((await call('DELETE', `/workflows/${id}`)).status, 204);

  const log = await call('GET', '/audit-log');
  assert.equal(log.status, 200);
  const entries = (log.body.data as { action: string; target: string; actor: string; detail: Record<string, unknown> }[])
    .filter((e) => e.target === id)
    .reverse();
  assert.deepEqual(
    entries.map((e) => [e.action, e.actor, e.detail]),
    [
      ['workflow.created', admin.id, { name: 'Enrolled', enabled: true }],
      ['workflow.updated', 'admin', { name: 'Enrolled', enabled: true, version: 2 }],
      ['workflow.updated', 'admin', { name: 'Enrolled', enabled: false, version: null }],
      ['workflow.deleted', 'admin', { name: 'Enrolled' }],
    ],
  );
  assert.ok(!JSON.stringify(log.body).includes('audit-marker'), 'the audit log holds the definition');
});
