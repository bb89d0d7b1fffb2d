// A repair the scan made once must be made again when the CRM goes wrong the same way again: the made-up event of
// a repair is deduplicated by an id derived from its content, so a second revoke of the same Piano access (the
// access re-granted meanwhile) must not be taken for the first one already stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getScan, runScanToEnd, startScan, stopScans, type ScanRequest } from '../../src/services/parity/start-scan.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { pianoData, sendPiano, startPianoApi, type PianoApiStandIn } from '../helpers/piano.js';

const nowS = () => Math.floor(Date.now() / 1000);

describe('the same scan repair twice', () => {
  let app: TestApp;
  let piano: PianoApiStandIn;
  before(async () => {
    piano = await startPianoApi();
    app = await startTestApp({ config: { pianoApiUrl: piano.url, scanRateTest: 0, scanRateLive: 0 } });
  });
  after(async () => {
    await stopScans(app.ctx);
    await app.close();
    await piano.close();
  });

  async function scan(req: Omit<ScanRequest, 'startedBy'>) {
    const { runId } = await startScan(app.ctx, { startedBy: 'manual', ...req });
    await runScanToEnd(app.ctx, runId);
    return (await getScan(app.ctx, req.workspaceId, runId))!;
  }

  test('Piano: an access revoked by a scan, granted again, then ended in Piano again, is revoked by the next scan', async () => {
    const privateKey = 'RepeatTestPianoPrivateKey0123456789ABCDEF';
    const aid = 'AIDREPEAT1';
    const uid = 'PNI_repeat_user';
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'repeat' })).body.id;
    const res = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid, privateKey, apiToken: 'piano_token_repeat' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const expires = nowS() + 30 * 86400;
    const grant = async (event: string) => {
      const payload = { version: 2, type: 'access_granted', event, aid, uid, rid: 'R_GOLD', access_id: 'acc_repeat_1', expires };
      assert.equal((await sendPiano(app.url, ws, pianoData(payload, privateKey))).status, 200);
    };
    const status = async () =>
      (await app.db.query<{ status: string }>(`SELECT status FROM access WHERE workspace_id = $1 AND provider_id = 'acc_repeat_1'`, [ws]))
        .rows[0]?.status;
    await grant('new_purchase');
    await waitFor(async () => (await status()) === 'active', 'granted');

    // Piano no longer has the access (its revoke webhook never came); its subscription is listed as over.
    let listed: Record<string, unknown>[] = [];
    let subscription: Record<string, unknown> = {};
    piano.answer = (path, params) => {
      if (path === '/publisher/webhook/list') return { code: 0, total: 0, webhooks: [] };
      if (path === '/publisher/subscription/list') return { code: 0, total: 1, subscriptions: [subscription] };
      if (path === '/publisher/user/access/list' && params.get('uid') === uid) return { code: 0, total: listed.length, accesses: listed };
      return { code: 0, total: 0 };
    };
    subscription = { subscription_id: 'RS_REPEAT', status: 'expired', auto_renew: false, user: { uid }, next_bill_date: nowS() - 86400 };
    const first = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    await waitFor(async () => (await status()) === 'revoked', 'the first revoke');

    // The reader buys again: granted by webhook, and Piano lists it while it lasts.
    listed = [{ access_id: 'acc_repeat_1', granted: true, revoked: false, resource: { rid: 'R_GOLD' }, expire_date: expires }];
    await grant('payment_verified');
    await waitFor(async () => (await status()) === 'active', 'granted again');

    // It ends in Piano again, and again its webhook is lost; the subscription is listed as renewed meanwhile.
    listed = [];
    subscription = { subscription_id: 'RS_REPEAT', status: 'expired', auto_renew: true, user: { uid }, next_bill_date: nowS() - 3600 };
    const second = await scan({ workspaceId: ws, provider: 'piano' });
    assert.equal(second.status, 'succeeded', JSON.stringify(second));
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    assert.equal(await status(), 'revoked', 'the second scan found the same revoke already stored and changed nothing');
  });
});
