// A change of trigger or steps is a new version; enabling, disabling, or saving the same definition again is not
// (the stored definition comes back from jsonb with its keys in another order, which must not count as a change).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('workflow versions', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(async () => {
    await app.close();
  });

  test('enable, disable and an unchanged definition keep the version; a new step makes one', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'versions' })).body.id as string;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    const definition = {
      name: 'Versions',
      trigger: { source: 'stripe', object: 'invoice', actions: ['paid'], if: 'event.amount_paid > 0' },
      steps: [
        { id: 'tag', kind: 'crm.tag', add: ['paid'] },
        { kind: 'http', url: 'https://example.com/hook', id: 'hook', body: { zebra: 1, apple: '{{ event.id }}' }, method: 'POST' },
      ],
    };
    const created = await call('POST', '/workflows', definition);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const version = async () => (await call('GET', `/workflows/${id}`)).body.version as number;
    assert.equal((await call('PATCH', `/workflows/${id}`, { enabled: false })).status, 200);
    assert.equal((await call('PATCH', `/workflows/${id}`, { enabled: true })).status, 200);
    assert.equal((await call('PATCH', `/workflows/${id}`, definition)).status, 200);
    assert.equal(await version(), 1, 'no new version');
    assert.equal((await call('GET', `/workflows/${id}/versions`)).body.data.length, 1);
    const changed = await call('PATCH', `/workflows/${id}`, { steps: [...definition.steps, { id: 'more', kind: 'crm.tag', add: ['x'] }] });
    assert.equal(changed.body.version, 2);
    assert.equal((await call('GET', `/workflows/${id}/versions`)).body.data.length, 2);
  });
});
