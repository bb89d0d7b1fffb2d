// Retention of parity check runs: the event-triggered checker records a run for every batch it checks, so finished
// check runs older than the workspace's retention are deleted; newer ones, unfinished ones and scan runs stay.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { insertCheckRun } from '../../src/db/queries/check-runs.js';
import { checkCustomers } from '../../src/services/parity/run-checks.js';
import { runScanToEnd, startScan } from '../../src/services/parity/start-scan.js';
import { runRetention } from '../../src/services/retention/run-retention.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const DAY_MS = 86_400_000;

describe('retention of check runs', () => {
  let app: TestApp;
  let clockOffset = 0;
  before(async () => {
    app = await startTestApp({
      worker: false,
      config: { retentionPauseMs: 0, retentionBatchSize: 10 },
      now: () => Date.now() + clockOffset,
    });
  });
  after(async () => {
    await app.close();
  });

  test('finished check runs older than the retention are deleted; recent, unfinished and scan runs are kept', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'check runs' })).body.id;
    assert.equal((await app.api('PATCH', `/api/v1/workspaces/${ws}`, { retentionDays: 1 })).status, 200);
    const old: string[] = [];
    for (let i = 0; i < 12; i++)
      old.push((await checkCustomers(app.ctx, { workspaceId: ws, customerIds: 'active', trigger: i % 2 ? 'event' : 'manual' })).runId);
    const queued = `chk_queued_${Date.now()}`;
    await insertCheckRun(app.db, {
      id: queued,
      workspaceId: ws,
      trigger: 'manual',
      scope: {},
      status: 'queued',
      owner: 'x',
      at: new Date(),
    });
    const scan = await startScan(app.ctx, { workspaceId: ws, startedBy: 'manual' });
    await runScanToEnd(app.ctx, scan.runId);

    clockOffset = 2 * DAY_MS;
    const recent = (await checkCustomers(app.ctx, { workspaceId: ws, customerIds: 'active', trigger: 'manual' })).runId;
    const r = await runRetention(app.ctx, { workspaceId: ws });
    assert.ok(r.ran);
    assert.equal(r.workspaces[0]!.checkRunsDeleted, 12);
    const { rows } = await app.db.query<{ id: string }>('SELECT id FROM check_runs WHERE workspace_id = $1 ORDER BY id', [ws]);
    assert.deepEqual(rows.map((x) => x.id).sort(), [queued, scan.runId, recent].sort());
  });
});
