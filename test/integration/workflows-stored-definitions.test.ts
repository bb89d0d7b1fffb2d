// Definitions stored by an earlier release, which today's save rules would refuse, keep running; and one stored
// definition that cannot be compiled does not hold up the other workflows of its workspace.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';

describe('stored workflow definitions', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  const runsOf = async (ws: string, wf: string) => (await call('GET', ws, `/workflows/${wf}/runs`)).body.data as any[];

  async function create(ws: string, name: string): Promise<string> {
    const res = await call('POST', ws, '/workflows', {
      name,
      trigger: { type: 'course.enrolled' },
      steps: [{ id: 'emit', kind: 'event.emit', type: `course.${name.toLowerCase()}`, data: { n: 1 } }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  /** A new version written as an earlier release would have: `change` applied to the current definition. */
  async function storeOldVersion(wf: string, change: (d: any) => void): Promise<void> {
    const { rows } = await app.db.query<{ definition: any; version: number }>(
      'SELECT v.definition, v.version FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id AND w.version = v.version WHERE w.id = $1',
      [wf],
    );
    const d = rows[0]!.definition;
    change(d);
    await app.db.query('INSERT INTO workflow_versions (workflow_id, version, definition) VALUES ($1, $2, $3)', [
      wf,
      rows[0]!.version + 1,
      JSON.stringify(d),
    ]);
    await app.db.query('UPDATE workflows SET version = version + 1 WHERE id = $1', [wf]);
  }

  test('a name with a tab, saved before names had to be one line, still runs', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'old names' })).body.id as string;
    const wf = await create(ws, 'Tabbed');
    await storeOldVersion(wf, (d) => (d.name = 'Course\tbuyers'));
    assert.equal((await call('POST', ws, '/events', { type: 'course.enrolled', data: { c: 1 } })).status, 201);
    const [run] = await waitFor(async () => {
      const r = await runsOf(ws, wf);
      return r.length === 1 && r[0].status === 'succeeded' ? r : null;
    }, 'the run of the old definition');
    assert.equal(run.version, 2);
  });

  test('a stored definition that no longer compiles does not stop the other workflows of its workspace', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'one broken' })).body.id as string;
    const broken = await create(ws, 'Broken');
    const good = await create(ws, 'Good');
    await storeOldVersion(broken, (d) => (d.steps[0].kind = 'no.such.kind'));
    assert.equal((await call('POST', ws, '/events', { type: 'course.enrolled', data: { c: 1 } })).status, 201);
    await waitFor(async () => {
      const r = await runsOf(ws, good);
      return r.length === 1 && r[0].status === 'succeeded' ? r : null;
    }, 'the run of the good workflow');
    assert.equal((await runsOf(ws, broken)).length, 0);
    // The message is retried for the broken one (the good one's run is not started twice by it).
    const { rows } = await app.db.query<{ status: string; error: string }>(
      `SELECT t.status, t.last_error AS error FROM workflow_triggers t JOIN messages m ON m.id = t.message_id
       WHERE t.workspace_id = $1 AND m.type = 'course.enrolled'`,
      [ws],
    );
    assert.deepEqual(
      rows.map((r) => r.status),
      ['pending'],
    );
    assert.match(rows[0]!.error, /no longer validates/);
  });
});
