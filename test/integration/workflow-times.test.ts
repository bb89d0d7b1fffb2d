// The times a workflow is given by event data: a delay's until and an access grant's until, read strictly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';

describe('workflow step times', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);

  async function delayRun(name: string, at: unknown) {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    const res = await call('POST', ws, '/workflows', {
      name,
      trigger: { type: 'course.enrolled' },
      steps: [{ id: 'wait', kind: 'delay', until: '{{ event.at }}' }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal((await call('POST', ws, '/events', { type: 'course.enrolled', data: { at } })).status, 201);
    const [run] = await waitFor(async () => {
      const r = (await call('GET', ws, `/workflows/${res.body.id}/runs`)).body.data as any[];
      return r.length === 1 && r[0].status !== 'running' ? r : null;
    }, 'the run settled or waiting');
    return (await call('GET', ws, `/runs/${run.id}`)).body;
  }

  test('a delay until a date that does not exist fails, naming it, instead of waiting until another day', async () => {
    const run = await delayRun('feb 30', '2099-02-30T00:00:00Z');
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.match(run.steps[0].error, /not a date that exists: 2099-02 has 28 days, not 30/);
  });

  test('a delay until unix seconds (a Stripe timestamp) is a time', async () => {
    const run = await delayRun('unix', 1_700_000_000);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.steps[0].output.resumeAt, '2023-11-14T22:13:20.000Z');
  });

  test('a literal until that is not an ISO time is refused on save', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'literal' })).body.id as string;
    const res = await call('POST', ws, '/workflows', {
      name: 'literal',
      trigger: { type: 'course.enrolled' },
      steps: [
        { id: 'wait', kind: 'delay', until: '2027-02-30T00:00:00Z' },
        { id: 'grant', kind: 'access.grant', resource: 'r', until: '12/25/2026' },
      ],
    });
    assert.equal(res.status, 422);
    assert.deepEqual(
      res.body.error.problems.map((p: any) => p.path),
      ['steps[0].until', 'steps[1].until'],
    );
  });
});
