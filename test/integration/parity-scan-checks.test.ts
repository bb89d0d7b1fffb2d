// The checks after a scan: a scan that touched more customers than one check run takes at once (10,000) still
// checks every one of them, and every customer with access after them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { insertScanRun } from '../../src/db/queries/scans.js';
import { getScan, runScanToEnd, stopScans } from '../../src/services/parity/start-scan.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('checks after a scan that touched many customers', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(async () => {
    await stopScans(app.ctx);
    await app.close();
  });

  test('10,001 touched customers are all checked; the checks do not fail on the size of the list', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'many touched' })).body.id;
    const n = 10_001;
    await app.db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, source_ts)
       SELECT 'cus_many' || lpad(i::text, 6, '0'), $1, 'stripe', 'cus_stripe_many' || i, now() FROM generate_series(1, $2::int) i`,
      [ws, n],
    );
    const touched = Array.from({ length: n }, (_, i) => `cus_stripe_many${i + 1}`);
    // A scan whose providers are done (as after a first scan of a large account), at its checks.
    const run = await insertScanRun(app.db, {
      id: `run_many_${Date.now()}`,
      workspaceId: ws,
      scope: { provider: null, providers: [], since: null, dryRun: false, startedBy: 'manual' },
      progress: { providers: [], index: 0, phase: 'checks', cursor: null, group: 0, startedAtMs: Date.now(), touched: { stripe: touched } },
      owner: 'someone-gone',
      at: new Date(Date.now() - 10 * 60_000),
    });
    assert.ok(run);
    await runScanToEnd(app.ctx, run.id);
    const done = (await getScan(app.ctx, ws, run.id))!;
    assert.equal(done.error, null, JSON.stringify(done.error));
    assert.equal(done.status, 'succeeded');
    const checked = Number((done.counts as unknown as Record<string, unknown>).checked);
    assert.ok(checked >= n, `checked ${checked} of ${n}`);
  });
});
