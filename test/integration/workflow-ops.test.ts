// Workflow operations: a rerun from a step (the same run, its attempt counted up, the steps from there executed
// again with inputs rendered anew and keys carrying the attempt, the earlier rows kept as history; a retry after
// it keeps its frozen input and keys), bulk replay by time range and run status (failed runs retried, filtered
// runs evaluated again on the current version, events without a run started; bounded and continued by cursor),
// and the retention of finished runs (old ones pruned with their steps and attempts, recent and live ones kept).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/lib/ids.js';
import { runRetention } from '../../src/services/retention/run-retention.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const FINAL = ['succeeded', 'failed', 'filtered'];
const DAY = 86_400_000;

describe('workflow operations', () => {
  let app: TestApp;
  let receiver: Receiver;
  /** Statuses the receiver answers per path, in turn (200 once the list is used up). */
  const script = new Map<string, number[]>();

  before(async () => {
    receiver = await startReceiver((r) => ({ status: script.get(r.path)?.shift() ?? 200 }));
    app = await startTestApp({
      config: { outboundAllow: LOOPBACK, workflowRetryBaseMs: 100, retentionBatchSize: 10, retentionPauseMs: 0 },
    });
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  const get = async (ws: string, path: string) => (await call('GET', ws, path)).body;
  const workspace = async (name: string) => (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
  async function create(ws: string, definition: unknown): Promise<string> {
    const res = await call('POST', ws, '/workflows', definition);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  async function publish(ws: string, type: string, data: unknown): Promise<string> {
    const res = await call('POST', ws, '/events', { type, data });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.message.id as string;
  }
  const settledRun = (ws: string, runId: string) =>
    waitFor(async () => {
      const r = await get(ws, `/runs/${runId}`);
      return FINAL.includes(r.status) ? r : null;
    }, `run ${runId} settled`);
  const settledRuns = (ws: string, wf: string, n: number) =>
    waitFor(async () => {
      const r = (await get(ws, `/workflows/${wf}/runs?limit=100`)).data as any[];
      return r.length >= n && r.every((x) => FINAL.includes(x.status)) ? r : null;
    }, `${n} runs settled`);
  const hits = (path: string) => receiver.requests.filter((r) => r.path === path);

  test('a rerun executes the steps from the one chosen again, as the same run; a retry after it keeps its keys', async () => {
    const ws = await workspace('rerun');
    script.set('/rerun/b', [400, 400]);
    const wf = await create(ws, {
      name: 'Lesson log',
      trigger: { type: 'lesson.done' },
      steps: [
        { id: 's1', kind: 'http', url: `${receiver.url}/rerun/a`, body: { n: '{{ event.n }}' } },
        { id: 's2', kind: 'event.emit', type: 'lesson.logged', data: { n: '{{ event.n }}' } },
        { id: 's3', kind: 'http', url: `${receiver.url}/rerun/b`, body: { n: '{{ event.n }}', attempt: '{{ run.attempt }}' } },
      ],
    });
    await publish(ws, 'lesson.done', { n: 7 });
    const [first] = await settledRuns(ws, wf, 1);
    assert.equal(first.status, 'failed', JSON.stringify(first));
    const runId = first.id as string;

    // From s2: s1 is not executed again; s2 emits again (a new event, not a repeat), s3 is rendered anew.
    const rerun = await call('POST', ws, `/runs/${runId}/rerun`, { fromStep: 's2' });
    assert.equal(rerun.status, 200, JSON.stringify(rerun.body));
    assert.equal(rerun.body.id, runId, 'the same run');
    assert.equal(rerun.body.attempt, 2);
    assert.equal(rerun.body.rerun, 2);
    const afterRerun = await settledRun(ws, runId);
    assert.equal(afterRerun.status, 'failed', 's3 fails once more');
    // Still failed at s3: a retry goes on from it with its frozen input and its (rerun's) key.
    assert.equal((await call('POST', ws, `/runs/${runId}/retry`)).status, 200);
    const done = await settledRun(ws, runId);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.attempt, 3);

    assert.equal(hits('/rerun/a').length, 1, 'the step before the rerun point ran once');
    const b = hits('/rerun/b');
    assert.deepEqual(
      b.map((r) => r.headers['idempotency-key']),
      [`${runId}:s3`, `${runId}:s3:2`, `${runId}:s3:2`],
    );
    assert.deepEqual(
      b.map((r) => JSON.parse(r.body).attempt),
      [1, 2, 2],
      'rendered anew by the rerun, frozen for the retry',
    );
    const logged = (await get(ws, '/messages?type=lesson.logged')).data;
    assert.equal(logged.length, 2, 'the emit step acted again on the rerun');
    assert.equal((await get(ws, `/workflows/${wf}/runs`)).data.length, 1, 'one run per (workflow, event)');

    // The run log keeps the replaced rows as history, in the order things happened.
    assert.deepEqual(
      done.steps.map((s: any) => [s.stepId, s.status, s.superseded, s.rerun]),
      [
        ['s1', 'succeeded', false, null],
        ['s2', 'succeeded', true, null],
        ['s3', 'failed', true, null],
        ['s2', 'succeeded', false, 2],
        ['s3', 'succeeded', false, 2],
      ],
    );
    assert.deepEqual(
      done.steps[4].attempts.map((a: any) => a.statusCode),
      [400, 200],
    );
    assert.deepEqual(done.steps[3].output.id, `wf:${runId}:s2:2`);
  });

  test('a rerun is refused for a run that is not finished, an unknown step and a step off the run’s path', async () => {
    const ws = await workspace('rerun refusals');
    const wf = await create(ws, {
      name: 'Branches',
      trigger: { type: 'size.measured', if: 'event.n > 0' },
      steps: [
        {
          id: 'check',
          kind: 'if',
          if: 'event.n > 5',
          steps: [{ id: 'big', kind: 'event.emit', type: 'size.big', data: {} }],
          else: [{ id: 'small', kind: 'event.emit', type: 'size.small', data: {} }],
        },
      ],
    });
    await publish(ws, 'size.measured', { n: 7 });
    await publish(ws, 'size.measured', { n: 0 });
    const runs = await settledRuns(ws, wf, 2);
    const ran = runs.find((r) => r.status === 'succeeded')!;
    const filtered = runs.find((r) => r.status === 'filtered')!;

    const offPath = await call('POST', ws, `/runs/${ran.id}/rerun`, { fromStep: 'small' });
    assert.equal(offPath.status, 422);
    assert.equal(offPath.body.error.code, 'STEP_NOT_ON_PATH');
    assert.match(offPath.body.error.message, /check, big/);
    const unknown = await call('POST', ws, `/runs/${ran.id}/rerun`, { fromStep: 'nope' });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.error.code, 'STEP_NOT_FOUND');
    const notFinished = await call('POST', ws, `/runs/${filtered.id}/rerun`, { fromStep: 'check' });
    assert.equal(notFinished.status, 409);
    assert.equal(notFinished.body.error.code, 'RUN_NOT_FINISHED');
    assert.equal((await call('POST', ws, `/runs/${ran.id}/rerun`, {})).status, 400);
    assert.equal((await call('POST', ws, `/runs/wfr_0000000000aaaaaaaaaaaaaa/rerun`, { fromStep: 'check' })).status, 404);
    // Nothing changed by the refusals.
    const still = await get(ws, `/runs/${ran.id}`);
    assert.equal(still.attempt, 1);
    assert.equal(still.steps.length, 2);

    // From the if step itself: it is evaluated again and its branch runs again.
    const again = await call('POST', ws, `/runs/${ran.id}/rerun`, { fromStep: 'check' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const done = await settledRun(ws, ran.id);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(
      done.steps.filter((s: any) => !s.superseded).map((s: any) => s.stepId),
      ['check', 'big'],
    );
    assert.equal((await get(ws, '/messages?type=size.big')).data.length, 2);
  });

  test('bulk replay by time range: failed runs retried, filtered runs evaluated again, events with no run started', async () => {
    const ws = await workspace('bulk');
    const since = new Date(Date.now() - 1000).toISOString();
    script.set('/bulk', [400, 400]);
    const wf = await create(ws, {
      name: 'Big orders',
      trigger: { source: 'custom', object: 'order', actions: ['placed'], if: 'event.amount > 100' },
      steps: [{ id: 'call', kind: 'http', url: `${receiver.url}/bulk`, body: { amount: '{{ event.amount }}' } }],
    });
    await publish(ws, 'order.placed', { amount: 500 });
    await publish(ws, 'order.placed', { amount: 600 });
    await publish(ws, 'order.placed', { amount: 50 });
    await publish(ws, 'order.placed', { amount: 60 });
    const first = await settledRuns(ws, wf, 4);
    assert.deepEqual(first.map((r) => r.status).sort(), ['failed', 'failed', 'filtered', 'filtered']);
    // An event published while the workflow is disabled gets no run.
    assert.equal((await call('PATCH', ws, `/workflows/${wf}`, { enabled: false })).status, 200);
    await publish(ws, 'order.placed', { amount: 700 });
    await publish(ws, 'order.other', { amount: 700 }); // not this workflow's event
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await get(ws, `/workflows/${wf}/runs`)).data.length, 4);
    // A new version lets small orders through.
    const v2 = await call('PATCH', ws, `/workflows/${wf}`, {
      enabled: true,
      trigger: { source: 'custom', object: 'order', actions: ['placed'], if: 'event.amount > 10' },
    });
    assert.equal(v2.body.version, 2, 'switching enabled alone made no version');

    const bad = [
      [{ since, until: since }, /must be before until/],
      [{ since, status: ['succeeded'] }, /rerun it from a step/],
      [{ since, status: ['running'] }, /still going/],
      [{ since, status: ['nope'] }, /not a run status/],
      [{ since, status: [] }, /failed and\/or filtered/],
      [{ eventIds: ['evt_x'], since }, /not both/],
      [{ since: 'yesterday' }, /since must be an ISO 8601 time/],
      [{ since, cursor: 'x:1' }, /cursor/],
    ] as const;
    for (const [body, message] of bad) {
      const res = await call('POST', ws, `/workflows/${wf}/replay`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error.message, message);
    }

    const res = await call('POST', ws, `/workflows/${wf}/replay`, { since, status: ['failed', 'filtered'] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { started, retried, reevaluated, restarted, skipped, nextCursor } = res.body;
    assert.deepEqual(
      { started, retried, reevaluated, restarted, skipped, nextCursor },
      {
        started: 1,
        retried: 2,
        reevaluated: 2,
        restarted: 2,
        skipped: 0,
        nextCursor: null,
      },
    );
    assert.equal(res.body.examined, 2, 'the two events without a run, whether they match or not');
    const all = await settledRuns(ws, wf, 5);
    assert.equal(all.length, 5);
    assert.ok(
      all.every((r) => r.status === 'succeeded'),
      JSON.stringify(all),
    );
    const byAmount = new Map<number, any>();
    for (const r of all) byAmount.set((await get(ws, `/runs/${r.id}`)).steps[0].input.body.amount, r);
    assert.equal(byAmount.get(500).version, 1, 'a retried run stays on its version');
    assert.equal(byAmount.get(50).version, 2, 'a filtered run that now passes runs on the current version');
    assert.equal(byAmount.get(50).attempt, 2);
    assert.equal(byAmount.get(700).version, 2);
    assert.equal(byAmount.get(700).mode, 'replay');
    assert.equal(hits('/bulk').length, 2 + 2 + 2 + 1);

    // Again: nothing is left to do.
    const again = await call('POST', ws, `/workflows/${wf}/replay`, { since, status: ['failed', 'filtered'] });
    assert.equal(again.body.started + again.body.retried + again.body.reevaluated, 0, JSON.stringify(again.body));
    assert.equal((await get(ws, `/workflows/${wf}/runs`)).data.length, 5);
  });

  test('bulk replay is bounded per call and continues with its cursor', async () => {
    const ws = await workspace('cursor');
    const since = new Date(Date.now() - 1000).toISOString();
    const wf = await create(ws, {
      name: 'Later',
      enabled: false,
      trigger: { type: 'visit.logged', if: 'event.ok' },
      // An http step publishes no message: the range holds only the five events.
      steps: [{ id: 'ping', kind: 'http', url: `${receiver.url}/cursor` }],
    });
    for (let i = 0; i < 5; i++) await publish(ws, 'visit.logged', { ok: i !== 0 });
    assert.equal((await call('PATCH', ws, `/workflows/${wf}`, { enabled: true })).status, 200);
    const calls: any[] = [];
    let cursor: string | null | undefined;
    do {
      const res = await call('POST', ws, `/workflows/${wf}/replay`, { since, limit: 2, ...(cursor ? { cursor } : {}) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      calls.push(res.body);
      cursor = res.body.nextCursor;
    } while (cursor && calls.length < 10);
    assert.deepEqual(
      calls.map((c) => c.examined),
      [2, 2, 1],
    );
    assert.equal(
      calls.reduce((n, c) => n + c.started, 0),
      5,
      'every event started once, none twice',
    );
    const runs = await settledRuns(ws, wf, 5);
    assert.deepEqual(runs.map((r) => r.status).sort(), ['filtered', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);

    // By status with a small limit: the filtered run (its if is still false) is evaluated once and left as it is.
    const byStatus = await call('POST', ws, `/workflows/${wf}/replay`, { since, status: ['filtered'], limit: 1 });
    assert.equal(byStatus.body.reevaluated, 1);
    assert.equal(byStatus.body.skipped, 1);
    assert.match(byStatus.body.data[0].reason, /still filtered/);
    assert.match(byStatus.body.nextCursor, /^r:/);
    const rest = await call('POST', ws, `/workflows/${wf}/replay`, { since, status: ['filtered'], cursor: byStatus.body.nextCursor });
    assert.equal(rest.body.reevaluated, 0);
    assert.equal(rest.body.nextCursor, null);

    // Created disabled, enabled since: a change of steps alone is a new version and leaves it enabled.
    const patched = await call('PATCH', ws, `/workflows/${wf}`, { steps: [{ id: 'ping', kind: 'http', url: `${receiver.url}/cursor2` }] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.version, 2);
    assert.equal(patched.body.enabled, true);
  });

  test('retention deletes finished runs past the workspace’s age with their steps; recent and live runs stay', async () => {
    const wsA = await workspace('runs kept 30 days'); // the server default
    const wsB = await workspace('runs kept 3 days');
    for (const bad of [0, 36_501, 1.5, '7']) {
      const res = await app.api('PATCH', `/api/v1/workspaces/${wsB}`, { workflowRunRetentionDays: bad });
      assert.equal(res.status, 400, String(bad));
    }
    const patched = await app.api('PATCH', `/api/v1/workspaces/${wsB}`, { workflowRunRetentionDays: 3 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.workflowRunRetentionDays, 3);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${wsA}`)).body.workflowRunRetentionDays, null);

    const definition = {
      name: 'Old',
      trigger: { type: 'old.thing' },
      steps: [{ id: 's', kind: 'event.emit', type: 'old.done', data: {} }],
    };
    const wfA = await create(wsA, definition);
    const wfB = await create(wsB, definition);
    /** A run created `ageDays` ago that finished `finishedDays` ago (null: still going), with a step and an attempt. */
    async function run(ws: string, wf: string, status: string, ageDays: number, finishedDays: number | null): Promise<string> {
      const id = newId('wfr', Date.now() - ageDays * DAY);
      await app.db.query(
        `INSERT INTO workflow_runs (id, workspace_id, workflow_id, version, trigger_event_key, status, trigger_event, created_at, finished_at)
         VALUES ($1, $2, $3, 1, $4, $5, '{}', $6, $7)`,
        [
          id,
          ws,
          wf,
          `key:${id}`,
          status,
          new Date(Date.now() - ageDays * DAY),
          finishedDays === null ? null : new Date(Date.now() - finishedDays * DAY),
        ],
      );
      if (status !== 'filtered') {
        const step = newId('wfs');
        await app.db.query(
          `INSERT INTO workflow_steps (id, run_id, workspace_id, step_id, kind, status, next_attempt_at)
           VALUES ($1, $2, $3, 's', 'event.emit', $4, now() + interval '1 day')`,
          [step, id, ws, status === 'running' || status === 'waiting' ? 'pending' : status],
        );
        await app.db.query(
          `INSERT INTO workflow_step_attempts (id, step_row_id, attempt, started_at, duration_ms, ok) VALUES ($1, $2, 1, now(), 1, true)`,
          [newId('wsa'), step],
        );
      }
      return id;
    }
    const oldA: string[] = [];
    for (let i = 0; i < 12; i++) oldA.push(await run(wsA, wfA, 'succeeded', 40, 31));
    oldA.push(await run(wsA, wfA, 'failed', 40, 35), await run(wsA, wfA, 'filtered', 40, 40));
    const keptA = [
      await run(wsA, wfA, 'running', 60, null),
      await run(wsA, wfA, 'waiting', 60, null),
      await run(wsA, wfA, 'succeeded', 40, 29), // started long ago, finished recently: its age counts from the finish
      await run(wsA, wfA, 'failed', 5, 5),
    ];
    const oldB = await run(wsB, wfB, 'succeeded', 5, 5);
    const keptB = await run(wsB, wfB, 'succeeded', 2, 2);

    const report = await runRetention(app.ctx, {});
    assert.ok(report.ran);
    const a = report.workspaces.find((w) => w.workspaceId === wsA)!;
    const b = report.workspaces.find((w) => w.workspaceId === wsB)!;
    assert.equal(a.workflowRunRetentionDays, 30);
    assert.equal(a.workflowRunsDeleted, 14);
    assert.equal(b.workflowRunRetentionDays, 3);
    assert.equal(b.workflowRunsDeleted, 1);

    const exists = async (table: string, column: string, ids: string[]) =>
      (await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = ANY($1::text[])`, [ids])).rows[0]!.n;
    assert.equal(await exists('workflow_runs', 'id', [...oldA, oldB]), 0);
    assert.equal(await exists('workflow_steps', 'run_id', [...oldA, oldB]), 0, 'their steps went with them');
    assert.equal(
      (
        await app.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM workflow_step_attempts a WHERE NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.id = a.step_row_id)',
        )
      ).rows[0]!.n,
      0,
    );
    assert.equal(await exists('workflow_runs', 'id', [...keptA, keptB]), 5);
    assert.equal(await exists('workflow_steps', 'run_id', [...keptA, keptB]), 5);

    const again = await runRetention(app.ctx, {});
    assert.ok(again.ran);
    assert.equal(
      again.workspaces.reduce((n, w) => n + w.workflowRunsDeleted, 0),
      0,
    );
  });
});
