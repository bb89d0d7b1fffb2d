// A flood of forged webhooks must not hold up valid ones. Each rejection is counted on its workspace's counter row;
// when that write is slow (here: the row is held by another transaction, as a busy or locked table would), neither
// the forged requests' answers nor the valid webhooks' commits may wait for it, and no count is lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { startTestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { rejectionsSettled } from '../../src/services/ingest/inbound-runtime.js';

const SECRET = 'whsec_rejection_flood_secret';

test('forged webhooks are answered while their counter cannot be written, valid ones keep their connections; every rejection is counted', async () => {
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
    await rejectionsSettled(app.ctx);

    await holder.query('BEGIN');
    await holder.query(`SELECT count FROM inbound_rejections WHERE workspace_id = $1 FOR UPDATE`, [ws]);
    const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    const answers = await within(Promise.all(Array.from({ length: 40 }, () => forged())));
    const payload = stripeEvent('customer.created', { email: 'valid@example.com' });
    const valid = await within(postStripe(app.url, ws, payload, signStripe(payload, SECRET)));
    await holder.query('COMMIT');
    assert.ok(answers, 'the forged requests were answered while their counter row was locked');
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([400]));
    assert.ok(valid, 'the valid webhook was answered while the counter row was locked');
    assert.equal(valid.status, 200);

    await rejectionsSettled(app.ctx);
    const health = await app.api('GET', `/api/v1/workspaces/${ws}/health`);
    const counts = Object.fromEntries(health.body.providers.stripe.rejections.map((r: any) => [r.reason, r.count]));
    assert.equal(counts.signature_mismatch, 41, 'each forged request counted once');
  } finally {
    await holder.end().catch(() => undefined);
    await app.close();
  }
});

// Each forged request is checked once more against a fresh read of the workspace's secrets (a secret added a moment
// ago on another instance must not refuse a genuine event). A flood must share those reads, not make one each.
test('a flood of forged webhooks shares its fresh reads of the secrets; a secret added meanwhile is still found', async () => {
  const app = await startTestApp({ worker: false });
  try {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Reads' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    // The read made slow (50 ms, a busy database), counted, and how many run at once.
    let reads = 0;
    let running = 0;
    let most = 0;
    const query = app.ctx.db.query.bind(app.ctx.db);
    app.ctx.db.query = (async (text: string, params?: unknown[]) => {
      if (!/FROM workspaces w LEFT JOIN connections c/.test(text)) return query(text, params);
      reads++;
      most = Math.max(most, ++running);
      try {
        await new Promise((r) => setTimeout(r, 50));
        return await query(text, params);
      } finally {
        running--;
      }
    }) as typeof app.ctx.db.query;
    const forged = () => {
      const payload = stripeEvent('invoice.paid');
      return postStripe(app.url, ws, payload, signStripe(payload, 'whsec_someone_else'));
    };
    await forged(); // the secrets are in memory from here on
    reads = 0;
    most = 0;
    const answers = await Promise.all(Array.from({ length: 200 }, () => forged()));
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([400]));
    // One at a time, each serving every request that came while the one before ran: not a pooled connection each.
    assert.equal(most, 1, `${most} fresh reads at once`);
    assert.ok(reads >= 1 && reads <= 40, `${reads} fresh reads for 200 forged requests`);

    // The guarantee the fresh read is for: a secret added behind this process's back (as by another instance
    // whose notification has not arrived) is found by the next request signed with it.
    const other = 'whsec_added_elsewhere';
    const added = new pg.Client({ connectionString: app.store.databaseUrl });
    await added.connect();
    try {
      // Sealed by this process, written straight into the row: the in-memory cache is not told.
      await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET, other] });
      const { rows } = await added.query(`SELECT secrets_sealed FROM connections WHERE workspace_id = $1 AND provider = 'stripe'`, [ws]);
      await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
      await postStripe(app.url, ws, stripeEvent('invoice.paid'), signStripe(stripeEvent('invoice.paid'), SECRET)); // cache: SECRET only
      await added.query(`UPDATE connections SET secrets_sealed = $2 WHERE workspace_id = $1 AND provider = 'stripe'`, [
        ws,
        rows[0].secrets_sealed,
      ]);
    } finally {
      await added.end();
    }
    const payload = stripeEvent('customer.created', { email: 'new-secret@example.com' });
    const flood = Array.from({ length: 50 }, () => forged());
    const genuine = await postStripe(app.url, ws, payload, signStripe(payload, other));
    await Promise.all(flood);
    assert.equal(genuine.status, 200, JSON.stringify(genuine.body));
  } finally {
    await app.close();
  }
});
