// A flood of forged webhooks must not hold up valid ones. Each rejection is counted on its workspace's counter row;
// when that write is slow (here: the row is held by another transaction, as a busy or locked table would), the
// rejections waiting for it must not take the pooled connections the group commit of valid webhooks needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { startTestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_rejection_flood_secret';

test('forged webhooks waiting on a slow rejection counter leave valid webhooks their connections; every rejection is counted', async () => {
  const app = await startTestApp({ worker: false });
  const holder = new pg.Client({ connectionString: app.store.databaseUrl });
  await holder.connect();
  try {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Flood' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const forged = () => {
      const payload = stripeEvent('invoice.paid');
      return postStripe(app.url, ws, payload, signStripe(payload, 'whsec_someone_else'));
    };
    // The counter row exists once a first rejection is counted.
    assert.equal((await forged()).status, 400);

    await holder.query('BEGIN');
    await holder.query(`SELECT count FROM inbound_rejections WHERE workspace_id = $1 FOR UPDATE`, [ws]);
    const flood = Array.from({ length: 40 }, () => forged());
    await new Promise((r) => setTimeout(r, 300)); // the flood reaches its counter and waits there

    const payload = stripeEvent('customer.created', { email: 'valid@example.com' });
    const valid = await Promise.race([
      postStripe(app.url, ws, payload, signStripe(payload, SECRET)),
      new Promise<null>((r) => setTimeout(() => r(null), 5000)),
    ]);
    await holder.query('COMMIT');
    assert.ok(valid, 'the valid webhook was answered while the forged ones waited on their counter');
    assert.equal(valid.status, 200);

    const answers = await Promise.all(flood);
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([400]));
    const health = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    const counts = Object.fromEntries(health.body.providers.stripe.rejections.map((r: any) => [r.reason, r.count]));
    assert.equal(counts.signature_mismatch, 41, 'each forged request counted once');
  } finally {
    await holder.end().catch(() => undefined);
    await app.close();
  }
});
