// Retention: what goes past a workspace's age (processed and ignored events, their timeline links, old
// attempts of finished deliveries, raw bodies of kept events) and what must stay (younger rows, waiting and
// failed events, the event behind a CRM row's current version, an event a pending delivery will still send),
// the per-workspace override set through the API, one run at a time, and webhooks stored during a run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { takeRetentionLease, releaseRetentionLease } from '../../src/db/queries/retention.js';
import { newId } from '../../src/lib/ids.js';
import { runRetention } from '../../src/services/retention/run-retention.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const DAY = 86_400_000;
const SECRET = 'whsec_retention_secret';

describe('retention', () => {
  let app: TestApp;
  let wsA: string; // server default: 90 days
  let wsB: string; // its own setting: 10 days
  const ids: Record<string, string> = {};

  /** Stores an event received `days` ago; returns its id. `raw`: its raw body is its payload (a Stripe event as
   *  ingest stores it), `bare`: it has raw bytes only. */
  async function event(
    ws: string,
    days: number,
    status: string,
    opts: { bare?: boolean; raw?: boolean; name?: string } = {},
  ): Promise<string> {
    const at = Date.now() - days * DAY;
    const id = newId('ev', at);
    await app.db.query(
      `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, payload, raw_is_payload, raw_body, raw_bytes, status,
                           received_at, processed_at, next_attempt_at)
       VALUES ($1, $2, 'stripe', $3, 'invoice.paid', $4, $5, $6, $7, $8, $9, $9, now() + interval '1 day')`,
      [
        id,
        ws,
        `evt_${id}`,
        opts.bare || opts.raw ? null : '{"id":"x"}',
        Boolean(opts.raw),
        opts.bare ? null : '{"id": "x"}',
        opts.bare ? Buffer.from('\u0000raw') : null,
        status,
        new Date(at),
      ],
    );
    if (opts.name) ids[opts.name] = id;
    return id;
  }

  const row = async (id: string) =>
    (
      await app.db.query<{ status: string; raw_body: string | null; raw_bytes: Buffer | null; raw_pruned_at: Date | null }>(
        'SELECT status, raw_body, raw_bytes, raw_pruned_at FROM events WHERE id = $1',
        [id],
      )
    ).rows[0];

  before(async () => {
    app = await startTestApp({ worker: false, config: { retentionDays: 90, retentionBatchSize: 10, retentionPauseMs: 0 } });
    wsA = (await app.api('POST', '/api/v1/workspaces', { name: 'Default retention' })).body.id;
    wsB = (await app.api('POST', '/api/v1/workspaces', { name: 'Short retention' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${wsA}/connections/stripe`, { webhookSecrets: [SECRET] });

    // Workspace A, 90 days: 35 old processed/ignored events to delete (several batches of 10) …
    for (let i = 0; i < 30; i++) await event(wsA, 100 + i, 'processed', i === 0 ? { name: 'oldProcessed' } : {});
    for (let i = 0; i < 5; i++) await event(wsA, 95, 'ignored', i === 0 ? { name: 'oldIgnored' } : {});
    // … and what stays.
    await event(wsA, 89, 'processed', { name: 'young' });
    await event(wsA, 120, 'failed', { name: 'oldFailed' });
    await event(wsA, 120, 'failed', { name: 'oldFailedBare', bare: true });
    await event(wsA, 120, 'received', { name: 'oldWaiting' });
    await event(wsA, 120, 'processed', { name: 'crmSource' });
    await event(wsA, 120, 'processed', { name: 'awaited' });
    await event(wsA, 120, 'processed', { name: 'pianoSource' });
    await event(wsA, 120, 'processed', { name: 'summarySource' });
    // Stripe events whose raw body is their payload: one a CRM row's source, one to delete with a raw message.
    await event(wsA, 120, 'processed', { name: 'crmSourceRaw', raw: true });
    await event(wsA, 120, 'processed', { name: 'oldProcessedRaw', raw: true });
    ids.rawMessage = newId('msg');
    await app.db.query(
      `INSERT INTO messages (id, workspace_id, type, data, data_event_id, source_provider, source_event_id, dedupe_key)
       VALUES ($1, $2, 'stripe.invoice.paid', NULL, $3, 'stripe', $4, 'raw:' || $3)`,
      [ids.rawMessage, wsA, ids.oldProcessedRaw, `evt_${ids.oldProcessedRaw}`],
    );
    // A customer whose current version was written by `crmSource`, and a timeline link to an event that goes.
    const cus = newId('cus');
    await app.db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, email, source_event_id) VALUES ($1, $2, 'stripe', 'cus_1', 'a@example.com', $3)`,
      [cus, wsA, `evt_${ids.crmSource}`],
    );
    const cus2 = newId('cus');
    await app.db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, email, source_event_id) VALUES ($1, $2, 'stripe', 'cus_2', 'b@example.com', $3)`,
      [cus2, wsA, `evt_${ids.crmSourceRaw}`],
    );
    // The customer's newest entitlement summary, which wrote no access row (it listed nothing): a rebuild needs it.
    await app.db.query(
      `INSERT INTO entitlement_summaries (customer_id, workspace_id, source_ts, source_rank, source_event_id) VALUES ($1, $2, now(), 1, $3)`,
      [cus2, wsA, `evt_${ids.summarySource}`],
    );
    await app.db.query('INSERT INTO customer_events (customer_id, event_id) VALUES ($1, $2)', [cus, ids.oldProcessed]);
    // Piano versions name Sluice's own event id after an ordering prefix.
    await app.db.query(
      `INSERT INTO access (id, workspace_id, provider, provider_id, resource, status, source_event_id)
       VALUES ($1, $2, 'piano', 'acc_1', 'RPREMIUM', 'active', $3)`,
      [newId('acs'), wsA, `000001700000:${ids.pianoSource}`],
    );
    // A forward endpoint with a pending delivery of the message sourced from `awaited`, and a finished one.
    const ep = newId('ep');
    await app.db.query(
      `INSERT INTO endpoints (id, workspace_id, kind, url, secrets_sealed) VALUES ($1, $2, 'forward', 'https://example.com/x', 'sealed')`,
      [ep, wsA],
    );
    const message = async (source: string) => {
      const id = newId('msg');
      await app.db.query(
        `INSERT INTO messages (id, workspace_id, type, data, source_provider, source_event_id, dedupe_key) VALUES ($1, $2, 'stripe.invoice.paid', '{}', 'stripe', $3, $1)`,
        [id, wsA, source],
      );
      return id;
    };
    const delivery = async (messageId: string, status: string) => {
      const id = newId('dlv');
      await app.db.query(`INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, status) VALUES ($1, $2, $3, $4, $5)`, [
        id,
        wsA,
        ep,
        messageId,
        status,
      ]);
      return id;
    };
    const attempt = async (deliveryId: string, days: number, name: string) => {
      const id = newId('att');
      await app.db.query(
        `INSERT INTO delivery_attempts (id, delivery_id, endpoint_id, started_at, duration_ms, status_code, outcome)
         VALUES ($1, $2, $3, $4, 5, 500, 'retry')`,
        [id, deliveryId, ep, new Date(Date.now() - days * DAY)],
      );
      ids[name] = id;
    };
    const pending = await delivery(await message(`evt_${ids.awaited}`), 'pending');
    const done = await delivery(await message('evt_elsewhere'), 'succeeded');
    await attempt(pending, 100, 'attemptOfPending');
    await attempt(done, 100, 'oldAttempt');
    await attempt(done, 30, 'youngAttempt');

    // Workspace B keeps 10 days, set through the API.
    const patched = await app.api('PATCH', `/api/v1/workspaces/${wsB}`, { retentionDays: 10 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.retentionDays, 10);
    await event(wsB, 20, 'processed', { name: 'bOld' });
    await event(wsB, 5, 'processed', { name: 'bYoung' });
  });
  after(() => app.close());

  test('the workspace setting is validated and shown', async () => {
    const bad = await app.api('PATCH', `/api/v1/workspaces/${wsA}`, { retentionDays: 0 });
    assert.equal(bad.status, 400);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${wsA}`)).body.retentionDays, null);
  });

  test('a second run waits for the lease: it skips while another holds it', async () => {
    assert.ok(await takeRetentionLease(app.db, 'ret_other', 60));
    const skipped = await runRetention(app.ctx);
    assert.deepEqual(skipped, { ran: false, reason: 'another run holds the lease' });
    await releaseRetentionLease(app.db, 'ret_other');
    assert.equal((await row(ids.oldProcessed!))?.status, 'processed', 'nothing pruned by the skipped run');
  });

  test('prunes what is past each workspace’s age and keeps what must stay, while webhooks keep arriving', async () => {
    // Webhooks posted while the run goes: every one is answered 200 and stored, whatever the run deletes.
    const bodies = Array.from({ length: 40 }, () => stripeEvent('invoice.paid'));
    const ingest = Promise.all(bodies.map((b) => postStripe(app.url, wsA, b, signStripe(b, SECRET))));
    const report = await runRetention(app.ctx);
    const answers = await ingest;
    assert.ok(report.ran);
    assert.deepEqual(
      answers.map((a) => a.status),
      bodies.map(() => 200),
    );
    const stored = await app.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE workspace_id = $1 AND provider_event_id = ANY($2::text[])`,
      [wsA, bodies.map((b) => JSON.parse(b).id)],
    );
    assert.equal(stored.rows[0]!.n, 40);

    const a = report.workspaces.find((w) => w.workspaceId === wsA)!;
    assert.equal(a.retentionDays, 90);
    assert.equal(a.eventsDeleted, 36);
    assert.equal(a.attemptsDeleted, 1);
    const b = report.workspaces.find((w) => w.workspaceId === wsB)!;
    assert.equal(b.retentionDays, 10);
    assert.equal(b.eventsDeleted, 1);

    // Gone: old processed and ignored events, with their timeline links; an old attempt of a finished delivery.
    assert.equal(await row(ids.oldProcessed!), undefined);
    assert.equal(await row(ids.oldIgnored!), undefined);
    assert.equal((await app.db.query('SELECT 1 FROM customer_events WHERE event_id = $1', [ids.oldProcessed])).rows.length, 0);
    assert.equal((await app.db.query('SELECT 1 FROM delivery_attempts WHERE id = $1', [ids.oldAttempt])).rows.length, 0);
    assert.equal(await row(ids.bOld!), undefined, 'the 10-day workspace lost its 20-day-old event');

    // Kept whole: younger events (both workspaces), an event still waiting, an event a pending delivery will send.
    for (const name of ['young', 'bYoung', 'oldWaiting', 'awaited']) {
      const r = await row(ids[name]!);
      assert.ok(r, `${name} kept`);
      assert.equal(r.raw_body, '{"id": "x"}', `${name} keeps its raw body`);
      assert.equal(r.raw_pruned_at, null);
    }
    // Kept without the raw body: a failed event and the CRM row's source (their payloads stay for replay/rebuild).
    for (const name of ['oldFailed', 'crmSource', 'pianoSource', 'summarySource']) {
      const r = await row(ids[name]!);
      assert.ok(r, `${name} kept`);
      assert.equal(r.raw_body, null, `${name} lost its raw body`);
      assert.ok(r.raw_pruned_at);
    }
    // A Stripe event whose raw body is its payload keeps it: it is the only copy.
    const rawSource = await row(ids.crmSourceRaw!);
    assert.equal(rawSource?.raw_body, '{"id": "x"}', 'the raw payload is kept');
    assert.equal(rawSource?.raw_pruned_at, null);
    // A deleted one's raw message keeps the payload it referred to, as its own data.
    assert.equal(await row(ids.oldProcessedRaw!), undefined);
    const kept = await app.db.query<{ data: unknown; data_event_id: string | null }>(
      'SELECT data, data_event_id FROM messages WHERE id = $1',
      [ids.rawMessage],
    );
    assert.deepEqual(kept.rows[0], { data: { id: 'x' }, data_event_id: null });
    // A failed event with no payload keeps its raw bytes: they are all there is of it.
    assert.ok((await row(ids.oldFailedBare!))?.raw_bytes);
    // Attempts of a pending delivery and young attempts stay; the CRM row is untouched.
    for (const name of ['attemptOfPending', 'youngAttempt']) {
      assert.equal((await app.db.query('SELECT 1 FROM delivery_attempts WHERE id = $1', [ids[name]])).rows.length, 1, name);
    }
    assert.equal((await app.db.query('SELECT 1 FROM customers WHERE workspace_id = $1', [wsA])).rows.length, 2);

    // A second run finds nothing more to do.
    const again = await runRetention(app.ctx);
    assert.ok(again.ran);
    assert.deepEqual(
      again.workspaces.map((w) => w.eventsDeleted + w.rawBodiesPruned + w.attemptsDeleted),
      again.workspaces.map(() => 0),
    );
  });

  test('the admin API runs it now, for one workspace or all; an unknown workspace is a 404', async () => {
    const one = await app.api('POST', '/api/v1/retention/run', { workspaceId: wsB });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.ran, true);
    assert.deepEqual(
      one.body.workspaces.map((w: { workspaceId: string }) => w.workspaceId),
      [wsB],
    );
    const missing = await app.api('POST', '/api/v1/retention/run', { workspaceId: 'ws_nosuchworkspace' });
    assert.equal(missing.status, 404);
    const key = (await app.api('POST', `/api/v1/workspaces/${wsA}/api-keys`, { role: 'admin' })).body.key;
    assert.equal((await app.api('POST', '/api/v1/retention/run', {}, key)).status, 403, 'a workspace key cannot prune every workspace');
  });
});
