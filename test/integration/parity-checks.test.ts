// Parity checks end to end: Stripe events through the real ingest and worker, the event-triggered checker, the
// boundary sweep with an injected clock, the on-demand API, incidents and the messages they publish.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { markCheckDue } from '../../src/db/queries/customer-checks.js';
import { saveParityPolicy } from '../../src/db/queries/parity-settings.js';
import { claimCustomersDue } from '../../src/services/parity/claim-due-checks.js';
import { checkCustomers } from '../../src/services/parity/run-checks.js';
import { sweepParity } from '../../src/services/parity/sweep-parity.js';
import type { ParityPolicy } from '../../src/parity/policy.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { holdLock } from '../helpers/locks.js';
import { createTestStore } from '../helpers/db.js';
import { processApi, runSluice, startSluiceProcess } from '../helpers/sluice-process.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_parity_checks_secret';
const DEBOUNCE_MS = 400;
const DAY = 86_400;

describe('parity checks', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ checker: true, config: { checkDebounceMs: DEBOUNCE_MS } });
  });
  after(() => app.close());

  async function workspace(name: string, policy?: Partial<ParityPolicy>): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    if (policy) await saveParityPolicy(app.db, ws, policy);
    return ws;
  }
  async function deliver(ws: string, ...payloads: string[]): Promise<void> {
    for (const payload of payloads) {
      const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  }
  async function processed(ws: string): Promise<void> {
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
  }
  async function customerId(ws: string, providerId: string): Promise<string> {
    return waitFor(async () => {
      const { rows } = await app.db.query<{ id: string }>('SELECT id FROM customers WHERE workspace_id = $1 AND provider_id = $2', [
        ws,
        providerId,
      ]);
      return rows[0]?.id;
    }, `customer ${providerId}`);
  }
  async function incidents(ws: string, subject: string, kind?: string) {
    const { rows } = await app.db.query<any>(
      `SELECT * FROM incidents WHERE workspace_id = $1 AND subject = $2 ${kind ? 'AND kind = $3' : ''} ORDER BY first_seen_at, id`,
      kind ? [ws, subject, kind] : [ws, subject],
    );
    return rows;
  }
  async function messages(ws: string, type: string) {
    return (await app.api('GET', `/api/v1/workspaces/${ws}/messages?type=${encodeURIComponent(type)}&limit=500`)).body.data as any[];
  }
  /** The team's app reports (or withdraws) access through the API. */
  async function reportAccess(ws: string, customer: string, key: string, granted: boolean): Promise<void> {
    const res = await app.api(
      granted ? 'PUT' : 'DELETE',
      `/api/v1/workspaces/${ws}/customers/${customer}/access/${key}`,
      granted ? {} : undefined,
    );
    assert.ok(res.status < 300, JSON.stringify(res.body));
  }
  const now = () => Math.floor(Date.now() / 1000);
  const sub = (id: string, customer: string, status: string, extra: Record<string, unknown> = {}) => ({
    id,
    object: 'subscription',
    customer,
    status,
    cancel_at_period_end: false,
    current_period_start: now() - 5 * DAY,
    current_period_end: now() + 25 * DAY,
    items: { object: 'list', data: [{ id: `si_${id}`, price: { id: 'price_pro', product: 'prod_pro' }, quantity: 1 }] },
    ...extra,
  });

  test('access reported by the app: missing within seconds, resolved by the grant, reopened (linked) by a revoke', async () => {
    const ws = await workspace('app-access', { accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }] });
    const sent = Date.now();
    await deliver(ws, stripeEvent('customer.subscription.created', sub('sub_app', 'cus_app', 'active')));
    const cus = await customerId(ws, 'cus_app');
    const [missing] = await waitFor(async () => {
      const rows = await incidents(ws, cus, 'access_missing');
      return rows.length ? rows : undefined;
    }, 'access_missing');
    assert.ok(Date.now() - sent < 5_000, `access_missing after ${Date.now() - sent} ms`);
    assert.equal(missing.status, 'open');
    assert.equal(missing.dedup_key, `access_missing:parity:${cus}:pro`);
    assert.equal(missing.severity, 'critical');
    assert.match(missing.details.rule, /status active is in grantStatuses; key pro has sources app/);
    assert.equal(missing.details.actual, 'no active access row from app');

    // The check run of the event trigger recorded it. An event-triggered run is written once the check is over,
    // just after the transaction that opened the incident: the incident can be seen a moment before the run.
    const runs = await waitFor(async () => {
      const data = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=event`)).body.data;
      return data.length >= 1 ? data : undefined;
    }, 'the event-triggered check run');
    assert.equal(runs.at(-1).status, 'succeeded');
    assert.equal(runs.at(-1).counts.findings.access_missing, 1);
    assert.equal(runs.at(-1).findings[0].key, 'pro');

    await reportAccess(ws, cus, 'pro', true);
    await waitFor(async () => (await incidents(ws, cus, 'access_missing'))[0].status === 'resolved', 'resolved by the grant');
    assert.equal((await incidents(ws, cus, 'access_missing'))[0].resolved_by, 'parity-check');

    await reportAccess(ws, cus, 'pro', false);
    const rows = await waitFor(async () => {
      const r = await incidents(ws, cus, 'access_missing');
      return r.length === 2 ? r : undefined;
    }, 'reopened');
    assert.equal(rows[1].status, 'open');
    assert.equal(rows[1].previous_id, rows[0].id);

    // One incident.opened per incident, one incident.resolved per resolve; none for the folds of later checks.
    await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=true`, { customerId: 'cus_app' });
    const opened = (await messages(ws, 'incident.opened')).map((m) => m.data.incident.id).sort();
    const resolved = (await messages(ws, 'incident.resolved')).map((m) => m.data.incident.id);
    assert.deepEqual(opened, [rows[0].id, rows[1].id].sort());
    assert.deepEqual(resolved, [rows[0].id]);
  });

  test('a trial that ended into paused with a live entitlement → entitlement_drift', async () => {
    const ws = await workspace('drift');
    const t = now();
    await deliver(
      ws,
      stripeEvent('customer.subscription.created', sub('sub_trial', 'cus_trial', 'trialing', { trial_end: t - 60 }), { created: t - 100 }),
      stripeEvent(
        'entitlements.active_entitlement_summary.updated',
        {
          object: 'entitlements.active_entitlement_summary',
          customer: 'cus_trial',
          entitlements: { object: 'list', data: [{ id: 'ent_1', lookup_key: 'pro_feature', feature: 'feat_1' }] },
        },
        { created: t - 90 },
      ),
      stripeEvent('customer.subscription.updated', sub('sub_trial', 'cus_trial', 'paused', { trial_end: t - 60 }), { created: t - 50 }),
    );
    const cus = await customerId(ws, 'cus_trial');
    const [drift] = await waitFor(async () => {
      const r = await incidents(ws, cus, 'entitlement_drift');
      return r.length ? r : undefined;
    }, 'entitlement_drift');
    assert.equal(drift.dedup_key, `entitlement_drift:parity:${cus}:pro_feature`);
    assert.equal(drift.details.rule, 'paused, and pausedGrantsAccess is false');
    // Nothing else: the entitlement is drift, not also access_unpaid.
    assert.deepEqual(
      (await incidents(ws, cus)).map((i: any) => i.kind),
      ['entitlement_drift'],
    );
    const view = (await app.api('GET', `/api/v1/workspaces/${ws}/parity/customers/cus_trial`)).body;
    const key = view.keys.find((k: any) => k.key === 'pro_feature');
    assert.deepEqual(key.sources, ['stripe_entitlements']);
    assert.deepEqual(key.findings, ['entitlement_drift']);
    assert.equal(view.incidents.length, 1);
  });

  test('a burst of events for one customer is checked once', async () => {
    const ws = await workspace('burst', { accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }] });
    const t = now();
    await deliver(
      ws,
      ...[0, 1, 2, 3, 4].map((i) =>
        stripeEvent('customer.subscription.updated', sub('sub_burst', 'cus_burst', 'active', { quantity: i + 1 }), { created: t + i }),
      ),
    );
    await processed(ws);
    const cus = await customerId(ws, 'cus_burst');
    await waitFor(async () => (await incidents(ws, cus, 'access_missing')).length === 1, 'checked');
    await new Promise((r) => setTimeout(r, DEBOUNCE_MS * 3));
    const runs = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=event`)).body.data;
    assert.equal(
      runs.reduce((n: number, r: any) => n + r.counts.checked, 0),
      1,
      JSON.stringify(runs.map((r: any) => r.counts)),
    );
  });

  test('a Piano access whose expiry passes turns expired at the next sweep, once', async () => {
    const ws = await workspace('piano-expiry');
    const { rows } = await app.db.query<{ id: string }>(
      `INSERT INTO customers (id, workspace_id, provider, provider_id) VALUES ('cus_piano_' || md5($1), $1, 'piano', 'PNI_user') RETURNING id`,
      [ws],
    );
    const cus = rows[0]!.id;
    const expires = new Date(Date.now() + 30_000);
    // As the Piano projection writes an access_granted with an expiry.
    await app.db.query(
      `INSERT INTO access (id, workspace_id, provider, provider_id, customer_id, resource, provider_access_id, status, granted_at, expires_at,
         source_ts, source_rank, source_event_id)
       VALUES ('acc_piano_' || md5($1), $1, 'piano', 'AC_1', $2, 'RID_1', 'AC_1', 'active', now(), $3, 'epoch', 1, 'x')`,
      [ws, cus, expires],
    );
    const at = (ms: number) => ({ ...app.ctx, now: () => ms });
    const before = await sweepParity(at(expires.getTime() - 1_000));
    assert.equal(before.expired, 0);
    const first = await sweepParity(at(expires.getTime() + 1_000));
    assert.ok(first.expired >= 1);
    const second = await sweepParity(at(expires.getTime() + 61_000));
    assert.equal(second.expired, 0);
    const access = (await app.api('GET', `/api/v1/workspaces/${ws}/access`)).body.data;
    assert.deepEqual(
      access.map((a: any) => a.status),
      ['expired'],
    );
    const revoked = await messages(ws, 'access.revoked');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0].data.reason, 'expired');
    assert.equal(revoked[0].data.access.resource, 'RID_1');
    assert.deepEqual(revoked[0].source, { provider: 'sluice', eventId: null, reason: 'expired' });
  });

  test('the sweep checks customers at their next boundary (past_due grace end), with trigger schedule', async () => {
    const ws = await workspace('boundary', { accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }] });
    const periodStart = now() - 2 * DAY;
    await deliver(
      ws,
      stripeEvent('customer.subscription.created', sub('sub_pd', 'cus_pd', 'past_due', { current_period_start: periodStart })),
    );
    await processed(ws);
    const cus = await customerId(ws, 'cus_pd');
    await reportAccess(ws, cus, 'pro', true);
    const graceEnd = (periodStart + 7 * DAY) * 1000;
    await waitFor(async () => {
      const { rows } = await app.db.query<{ next_check_at: Date | null; check_due_at: Date | null }>(
        'SELECT next_check_at, check_due_at FROM customers WHERE id = $1',
        [cus],
      );
      return rows[0]?.check_due_at === null && rows[0]?.next_check_at?.getTime() === graceEnd;
    }, 'next boundary = grace end');
    assert.equal((await incidents(ws, cus)).length, 0);
    const swept = await sweepParity({ ...app.ctx, now: () => graceEnd + 1_000 });
    assert.ok(swept.checked >= 1);
    const [unpaid] = await incidents(ws, cus, 'access_unpaid');
    assert.equal(unpaid.details.rule, 'past_due for 7 days > pastDueGraceDays 7');
    const runs = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=schedule`)).body.data;
    assert.equal(runs.length, 1);
    assert.equal(runs[0].counts.findings.access_unpaid, 1);
  });

  test('repair mode auto: grants what is paid, revokes what is not, publishes access.* once with reason parity_repair', async () => {
    const ws = await workspace('auto', { repair: 'auto', accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }] });
    const t = now();
    await deliver(ws, stripeEvent('customer.subscription.created', sub('sub_auto', 'cus_auto', 'active'), { created: t - 10 }));
    const cus = await customerId(ws, 'cus_auto');
    const granted = await waitFor(async () => {
      const m = await messages(ws, 'access.granted');
      return m.length ? m : undefined;
    }, 'repair grant');
    assert.equal(granted.length, 1);
    assert.equal(granted[0].data.reason, 'parity_repair');
    assert.equal(granted[0].data.access.provider, 'sluice');
    assert.equal(granted[0].data.access.resource, 'pro');
    assert.deepEqual(granted[0].source, { provider: 'sluice', eventId: null, reason: 'parity_repair' });
    // The incident opened for it resolved in the same run.
    const [missing] = await incidents(ws, cus, 'access_missing');
    assert.equal(missing.status, 'resolved');
    assert.equal((await messages(ws, 'incident.opened')).length, 1);
    assert.equal((await messages(ws, 'incident.resolved')).length, 1);
    // Checking again changes nothing.
    const again = (await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=true`, { customerId: cus })).body;
    assert.deepEqual(again.findings, []);

    await deliver(ws, stripeEvent('customer.subscription.deleted', sub('sub_auto', 'cus_auto', 'canceled'), { created: t }));
    const revoked = await waitFor(async () => {
      const m = await messages(ws, 'access.revoked');
      return m.length ? m : undefined;
    }, 'repair revoke');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0].data.reason, 'parity_repair');
    const rows = (await app.api('GET', `/api/v1/workspaces/${ws}/access`)).body.data;
    assert.deepEqual(
      rows.map((r: any) => [r.provider, r.status]),
      [['sluice', 'revoked']],
    );
    await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=true`, { customerId: cus });
    assert.equal((await messages(ws, 'access.revoked')).length, 1);
    assert.equal((await messages(ws, 'access.granted')).length, 1);
  });

  test('POST checks, check runs and the parity view; bad input changes nothing', async () => {
    const ws = await workspace('api', { accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }] });
    await deliver(ws, stripeEvent('customer.subscription.created', sub('sub_api', 'cus_api', 'active')));
    await processed(ws);
    const waited = await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=true`, { customerId: 'cus_api' });
    assert.equal(waited.status, 200);
    assert.equal(waited.body.findings[0].kind, 'access_missing');
    assert.match(waited.body.runId, /^chk_/);

    const queued = await app.api('POST', `/api/v1/workspaces/${ws}/checks`, {});
    assert.equal(queued.status, 202);
    const run = await waitFor(async () => {
      const r = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs/${queued.body.runId}`)).body;
      return r.status === 'succeeded' ? r : undefined;
    }, 'queued run');
    assert.equal(run.trigger, 'manual');
    assert.deepEqual(run.scope, { customers: 'active' });
    assert.equal(run.counts.checked, 1);
    assert.equal(typeof run.durationMs, 'number');

    const manual = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=manual&limit=1`)).body;
    assert.equal(manual.data.length, 1);
    assert.ok(manual.nextCursor);
    const next = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=manual&cursor=${manual.nextCursor}`)).body;
    assert.equal(next.data.length, 1);
    assert.notEqual(next.data[0].id, manual.data[0].id);

    const view = (await app.api('GET', `/api/v1/workspaces/${ws}/parity/customers/cus_api`)).body;
    const pro = view.keys.find((k: any) => k.key === 'pro');
    assert.equal(pro.expected, true);
    assert.equal(pro.actual, false);
    assert.deepEqual(pro.findings, ['access_missing']);
    assert.equal(view.incidents[0].kind, 'access_missing');

    const bad = [
      await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=true`, {}),
      await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=maybe`, {}),
      await app.api('POST', `/api/v1/workspaces/${ws}/checks`, { customerId: 'x'.repeat(201) }),
      await app.api('POST', `/api/v1/workspaces/${ws}/checks`, { customerId: 'cus_api', extra: 1 }),
      await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=sometimes`),
      await app.api('GET', `/api/v1/workspaces/${ws}/check-runs/not-a-run`),
    ];
    assert.deepEqual(
      bad.map((r) => r.status),
      [400, 400, 400, 400, 400, 400],
    );
    const runsBefore = (await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=manual&limit=500`)).body.data.length;
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/checks?wait=true`, { customerId: 'cus_nobody' })).status, 404);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/check-runs/chk_00000000000000000000000000`)).status, 404);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/parity/customers/cus_nobody`)).status, 404);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/check-runs?trigger=manual&limit=500`)).body.data.length, runsBefore);
  });

  test('stuck_event: a failed event and one due for processing since before stuckEventMinutes; a younger one is not stuck', async () => {
    const ws = await workspace('stuck events', { stuckEventMinutes: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const payload = stripeEvent(
        'customer.updated',
        { id: 'cus_stuck', object: 'customer', email: `stuck${i}@example.com` },
        { created: Math.floor(Date.now() / 1000) - 100 + i },
      );
      ids.push(JSON.parse(payload).id);
      await deliver(ws, payload);
    }
    await processed(ws);
    const cus = await customerId(ws, 'cus_stuck');
    const sluiceId = async (providerEventId: string) =>
      (
        await app.db.query<{ id: string }>('SELECT id FROM events WHERE workspace_id = $1 AND provider_event_id = $2', [
          ws,
          providerEventId,
        ])
      ).rows[0]!.id;
    const [failed, old, young] = [await sluiceId(ids[0]!), await sluiceId(ids[1]!), await sluiceId(ids[2]!)];
    await app.db.query(`UPDATE events SET status = 'failed' WHERE id = $1`, [failed]);
    // Held by a worker that is gone (its lease still runs), so the live worker leaves them waiting.
    // One statement: the live worker of the test app never sees the event waiting without the gone worker's lease.
    const wait = (id: string, age: string) =>
      app.db.query(
        `WITH waiting AS (
           UPDATE events SET status = 'received', next_attempt_at = now() - $2::interval, received_at = now() - $2::interval
           WHERE id = $1 RETURNING id)
         INSERT INTO event_leases (id, worker, until, keys, attempts) SELECT id, 'gone', now() + interval '1 hour', '{}', 1 FROM waiting
         ON CONFLICT (id) DO UPDATE SET worker = EXCLUDED.worker, until = EXCLUDED.until`,
        [id, age],
      );
    await wait(old, '5 minutes');
    await wait(young, '0 seconds');
    const summary = await checkCustomers(app.ctx, { workspaceId: ws, customerIds: [cus], trigger: 'manual' });
    const stuck = summary.findings.filter((f) => f.kind === 'stuck_event');
    assert.equal(stuck.length, 1, JSON.stringify(summary.findings));
    assert.deepEqual([...stuck[0]!.evidence.eventIds].sort(), [failed, old].sort());
    assert.equal((await incidents(ws, cus, 'stuck_event')).length, 1);
    await app.db.query(
      `WITH done AS (UPDATE events SET status = 'processed' WHERE id = ANY($1::text[]) RETURNING id)
       DELETE FROM event_leases WHERE id IN (SELECT id FROM done)`,
      [[failed, old, young]],
    );
  });

  test('two checkers claiming at once never hold the same customer', async () => {
    const ws = await workspace('claims');
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(`cus_claim_${ws.slice(-8)}_${i}`);
    await app.db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, check_due_at)
       SELECT id, $1, 'stripe', id, now() - interval '1 minute' FROM unnest($2::text[]) AS id`,
      [ws, ids],
    );
    const lease = new Date(Date.now() + 60_000);
    // The app's own checker competes too: whatever it takes is not given to us, and nothing is given twice.
    const claims = await Promise.all([0, 1, 2, 3].map(() => claimCustomersDue(app.ctx, { leaseUntil: lease, limit: 100 })));
    const got = claims.flatMap((c) => c.get(ws) ?? []);
    assert.equal(new Set(got).size, got.length);
    // A claimed customer is not claimable again while its lease runs, even if a change marks it due.
    await markCheckDue(app.db, got, new Date(Date.now() - 1000));
    const again = await claimCustomersDue(app.ctx, { leaseUntil: lease, limit: 1000 });
    assert.equal((again.get(ws) ?? []).filter((id) => got.includes(id)).length, 0);
    // Past the lease (the checker died), they are claimed again.
    const later = await claimCustomersDue(
      { ...app.ctx, now: () => lease.getTime() + 1 },
      { leaseUntil: new Date(lease.getTime() + 60_000), limit: 1000 },
    );
    assert.ok((later.get(ws) ?? []).filter((id) => got.includes(id)).length > 0);
  });

  test(
    'a check gives way to a transaction holding its customer (a projection batch): it never waits on it long',
    { timeout: 30_000 },
    async () => {
      const ws = await workspace('gives way');
      const cus = `cus_gives_way_${ws.slice(-8)}`;
      const stale = new Date('2000-01-01T00:00:00Z');
      // A customer with nothing to check has no next boundary: the check writes null over this stale one.
      await app.db.query(
        `INSERT INTO customers (id, workspace_id, provider, provider_id, next_check_at) VALUES ($1, $2, 'stripe', $1, $3)`,
        [cus, ws, stale],
      );
      const nextCheck = async () =>
        (await app.db.query<{ at: Date | null }>('SELECT next_check_at AS at FROM customers WHERE id = $1', [cus])).rows[0]!.at;
      /** Holds the customer row as a batch would, until the returned release is called. */
      async function hold() {
        const lock = holdLock(app.db, 'SELECT id FROM customers WHERE id = $1 FOR UPDATE', [cus]);
        await lock.locked;
        return lock.release;
      }

      // Held for the whole run: the check gives up after a few short waits instead of waiting for the holder.
      let release = await hold();
      const t0 = performance.now();
      const failure = await checkCustomers(app.ctx, { workspaceId: ws, customerIds: [cus], trigger: 'manual' }).then(
        () => undefined,
        (err: unknown) => err as { code?: string },
      );
      const gaveUpAfter = performance.now() - t0;
      await release();
      assert.equal(failure?.code, '55P03', 'a lock not granted in time');
      assert.ok(gaveUpAfter < 3_000, `gave up after ${gaveUpAfter.toFixed(0)} ms`);
      assert.deepEqual(await nextCheck(), stale, 'nothing of the failed run was written');

      // Held for a moment: the check waits or tries again, and its writes land once the holder is through.
      release = await hold();
      setTimeout(() => void release(), 150);
      await checkCustomers(app.ctx, { workspaceId: ws, customerIds: [cus], trigger: 'manual' });
      assert.equal(await nextCheck(), null);
    },
  );
});

test('sluice check prints the findings of one customer and of the workspace', { timeout: 180_000 }, async () => {
  const store = await createTestStore();
  const token = 'parity_check_cli_admin_token_0123456789';
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: token, SLUICE_CHECK_DEBOUNCE_MS: '60000' };
  const server = await startSluiceProcess(env);
  const api = processApi(token);
  try {
    const ws = (await api(server.url, 'POST', '/workspaces', { name: 'cli' })).body.id as string;
    await api(server.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const saved = await api(server.url, 'PUT', `/workspaces/${ws}/settings/parity?force=true`, {
      accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }],
    });
    assert.ok(saved.status < 300, JSON.stringify(saved.body));
    const t = Math.floor(Date.now() / 1000);
    const payload = stripeEvent('customer.subscription.created', {
      id: 'sub_cli',
      object: 'subscription',
      customer: 'cus_cli',
      status: 'active',
      current_period_start: t - DAY,
      current_period_end: t + 29 * DAY,
      items: { object: 'list', data: [{ id: 'si_cli', price: { id: 'price_pro', product: 'prod_pro' } }] },
    });
    assert.equal((await postStripe(server.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    await waitFor(async () => (await api(server.url, 'GET', `/workspaces/${ws}/customers/cus_cli`)).status === 200, 'projected');

    const one = await runSluice(['check', '--workspace', ws, '--customer', 'cus_cli'], env);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /access_missing {2}cus_\w+ {2}pro/);
    assert.match(one.stdout, /rule: {5}status active is in grantStatuses; key pro has sources app/);
    const all = await runSluice(['check', '--workspace', ws, '--json'], env);
    assert.equal(all.code, 0, all.stderr);
    const json = JSON.parse(all.stdout);
    assert.equal(json.checked, 1);
    assert.deepEqual(
      json.findings.map((f: any) => [f.kind, f.key]),
      [['access_missing', 'pro']],
    );
    const usage = await runSluice(['check'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--workspace is required/);
    const unknown = await runSluice(['check', '--workspace', ws, '--customer', 'cus_nobody'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /CUSTOMER_NOT_FOUND|no customer/);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    await store.drop();
  }
});
