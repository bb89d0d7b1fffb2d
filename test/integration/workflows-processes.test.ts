// Workflows across real `sluice` processes: two instances working one database at once, kill -9 in the middle of
// a run, and a delay that outlives its process. What is asserted is what users rely on: one run per event, internal
// steps applied once (counted by the messages they publish and by their step rows), external requests repeated
// only with one Idempotency-Key, and timers that resume at their frozen time.
//
// The kill and delay tests run each process on the test store (its own embedded server on the embedded leg, so a
// restart takes the path a user's does: reuse the orphaned server, free the dead process's claims). The two-instance
// test needs two `sluice start` on one server, which the embedded mode refuses per data dir: there both processes
// connect to the server by URL — on the embedded leg, the suite's embedded PostgreSQL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/app.js';
import { createTestStore, type TestStore } from '../helpers/db.js';
import { startReceiver, type Answer } from '../helpers/receiver.js';
import { processApi, startSluiceProcess, type SluiceProcess } from '../helpers/sluice-process.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const TOKEN = 'workflows_processes_admin_token_0123456789';
const SECRET = 'whsec_workflows_processes_secret';
const api = processApi(TOKEN);
const FINAL = ['succeeded', 'failed', 'filtered'];
const T0 = Math.floor(Date.now() / 1000) - 3600;

function baseEnv(store: TestStore): Record<string, string> {
  return {
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_SECRET_KEY: 'workflows-processes-master-key-0123456789',
    SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8',
    SLUICE_WORKER_POLL_MS: '100',
    SLUICE_WORKFLOW_RETRY_BASE_MS: '100',
    // A dead process's claims come back after the workflow lease: max(this, outbound timeout + 15 s) = 16 s.
    SLUICE_WORKER_LEASE_SECONDS: '3',
    SLUICE_OUTBOUND_TIMEOUT_MS: '1000',
    ...store.env,
  };
}

async function stop(p: SluiceProcess | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  await p.exited;
}

/** The workspace's API on one process: `ws(url)('GET', '/runs/x')`. */
const on = (ws: string) => async (url: string, method: string, path: string, body?: unknown) => {
  const res = await api(url, method, `/workspaces/${ws}${path}`, body);
  return res;
};

async function stripeWorkspace(url: string, name: string): Promise<string> {
  const ws = (await api(url, 'POST', '/workspaces', { name })).body.id as string;
  assert.equal((await api(url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
  return ws;
}

async function deliver(url: string, ws: string, payload: string): Promise<void> {
  const res = await postStripe(url, ws, payload, signStripe(payload, SECRET));
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function allPages(call: ReturnType<typeof on>, url: string, path: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await call(url, 'GET', `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    out.push(...res.body.data);
    cursor = res.body.nextCursor ?? null;
  } while (cursor);
  return out;
}

test(
  'two instances on one PostgreSQL: a checkout delivered three times and replayed on both gives one run, one grant, one request',
  { timeout: 180_000 },
  async () => {
    const store = await createTestStore();
    // Both processes reach the same schema by URL (see the file's comment).
    const env = { ...baseEnv(store), DATABASE_URL: store.databaseUrl };
    let received = 0;
    const receiver = await startReceiver((): Answer => {
      received++;
      // A slow receiver keeps steps in flight while the other instance claims.
      return { status: 200, delayMs: 100 };
    });
    let a: SluiceProcess | undefined;
    let b: SluiceProcess | undefined;
    try {
      [a, b] = await Promise.all([startSluiceProcess(env), startSluiceProcess(env)]);
      const A = a.url;
      const B = b.url;
      const ws = await stripeWorkspace(A, 'two instances');
      const call = on(ws);
      const created = await call(B, 'POST', '/workflows', {
        name: 'Course buyers',
        trigger: { source: 'stripe', object: 'checkout_session', actions: ['completed', 'expired'] },
        steps: [
          {
            id: 'route',
            kind: 'switch',
            on: 'event.action',
            cases: [
              {
                when: 'completed',
                steps: [
                  { id: 'grant', kind: 'access.grant', resource: 'course-101' },
                  {
                    id: 'notify',
                    kind: 'http',
                    method: 'POST',
                    url: `${receiver.url}/enrolled`,
                    body: { email: '{{ customer.email }}', session: '{{ event.id }}' },
                  },
                ],
              },
              { when: 'expired', steps: [{ id: 'tag', kind: 'crm.tag', add: ['checkout-expired'] }] },
            ],
          },
        ],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const wf = created.body.id as string;

      const N = 12;
      const customers = Array.from({ length: N }, (_, i) => `cus_two_${i}`);
      for (const [i, c] of customers.entries()) {
        await deliver(i % 2 ? A : B, ws, stripeEvent('customer.created', { id: c, email: `${c}@example.com` }, { created: T0 }));
      }
      await waitFor(
        async () => (await allPages(call, A, '/customers')).filter((c) => customers.includes(c.providerId)).length === N,
        'customers projected',
        30_000,
      );

      const sessions = customers.map((c, i) =>
        stripeEvent(
          'checkout.session.completed',
          { id: `cs_two_${i}`, object: 'checkout.session', customer: c, payment_status: 'paid', status: 'complete' },
          { created: T0 + 10 },
        ),
      );
      // Each session three times, to A, B and A at once; every session at once.
      await Promise.all(sessions.flatMap((s) => [deliver(A, ws, s), deliver(B, ws, s), deliver(A, ws, s)]));
      const events = await waitFor(async () => {
        const list = await allPages(call, B, '/events?type=checkout.session.completed');
        return list.length === N ? list : null;
      }, 'one stored event per session');
      const eventIds = events.map((e) => e.id as string);
      // Replays of every kind on both instances, while the first runs are being started and worked.
      const replays = await Promise.all([
        call(A, 'POST', `/workflows/${wf}/replay`, { eventIds }),
        call(B, 'POST', `/workflows/${wf}/replay`, { eventIds }),
        ...eventIds.flatMap((id, i) => [call(i % 2 ? A : B, 'POST', `/events/${id}/replay`)]),
        call(B, 'POST', `/workflows/${wf}/replay`, { since: new Date(Date.now() - 3600_000).toISOString() }),
      ]);
      for (const r of replays) assert.ok(r.status === 200 || r.status === 202, JSON.stringify(r.body));

      const settled = async () =>
        waitFor(
          async () => {
            const list = await allPages(call, A, `/workflows/${wf}/runs`);
            return list.length >= N && list.every((r) => FINAL.includes(r.status)) ? list : null;
          },
          'every run settled',
          60_000,
        );
      await settled();
      // Once more after the runs finished, on both instances: still nothing new.
      await Promise.all([call(A, 'POST', `/workflows/${wf}/replay`, { eventIds }), call(B, 'POST', `/events/${eventIds[0]}/replay`)]);
      await waitFor(async () => (await allPages(call, A, '/events?status=received')).length === 0, 'replayed events processed');
      await new Promise((r) => setTimeout(r, 1000));
      const runs = await settled();

      assert.equal(runs.length, N, 'one run per session');
      assert.deepEqual(new Set(runs.map((r) => r.trigger.eventId)), new Set(eventIds));
      for (const r of runs) {
        assert.equal(r.status, 'succeeded', JSON.stringify(r));
        const detail = (await call(A, 'GET', `/runs/${r.id}`)).body;
        assert.deepEqual(
          detail.steps.map((s: any) => [s.stepId, s.status]),
          [
            ['route', 'succeeded'],
            ['grant', 'succeeded'],
            ['notify', 'succeeded'],
          ],
        );
        const hits = receiver.requests.filter((q) => q.headers['idempotency-key'] === `${r.id}:notify`);
        assert.equal(hits.length, 1, `run ${r.id}: the receiver saw its request once`);
      }
      assert.equal(received, N, 'no request beyond one per run');
      const granted = await allPages(call, A, '/messages?type=access.granted');
      assert.equal(granted.length, N, 'one access.granted per session');
      assert.equal(new Set(granted.map((m) => m.data.access.customerId)).size, N);
      const access = (await allPages(call, B, '/access')).filter((x) => x.provider === 'workflows' || x.source === 'workflows');
      assert.equal(access.length, N, 'one access row per customer');

      // The other case of the switch: an expired session tags its customer, once.
      const expired = stripeEvent(
        'checkout.session.expired',
        { id: 'cs_two_expired', object: 'checkout.session', customer: customers[0], status: 'expired' },
        { created: T0 + 20 },
      );
      await Promise.all([deliver(A, ws, expired), deliver(B, ws, expired)]);
      await waitFor(async () => {
        const list = await allPages(call, A, `/workflows/${wf}/runs`);
        return list.length === N + 1 && list.every((r) => FINAL.includes(r.status));
      }, 'the expired run settled');
      const tagged = await allPages(call, B, '/messages?type=customer.tagged');
      assert.equal(tagged.length, 1);
      assert.deepEqual(tagged[0].data.tags, ['checkout-expired']);
      const customer = (await allPages(call, A, '/customers')).find((c) => c.providerId === customers[0]);
      assert.equal(tagged[0].data.customer.id, customer.id);
      assert.equal(received, N, 'the expired case sends nothing');
    } finally {
      await Promise.all([stop(a), stop(b)]);
      await receiver.close();
      await store.drop();
    }
  },
);

test(
  'kill -9 while an http step is in flight: after a restart every run completes, internal steps applied once',
  { timeout: 180_000 },
  async () => {
    const store = await createTestStore();
    const env = baseEnv(store);
    // Requests hang until the process is killed; after the restart they are answered.
    let answering = false;
    const receiver = await startReceiver((): Answer => (answering ? { status: 200, body: '{"ok":true}' } : 'hang'));
    let first: SluiceProcess | undefined;
    let second: SluiceProcess | undefined;
    try {
      first = await startSluiceProcess(env);
      const ws = await stripeWorkspace(first.url, 'kill mid-run');
      const call = on(ws);
      const created = await call(first.url, 'POST', '/workflows', {
        name: 'Buy a course',
        trigger: { type: 'course.bought' },
        steps: [
          { id: 'tag', kind: 'crm.tag', add: ['buyer'] },
          { id: 'set', kind: 'crm.set', attributes: { course: '{{ event.course }}' } },
          { id: 'grant', kind: 'access.grant', resource: '{{ event.course }}' },
          {
            id: 'notify',
            kind: 'http',
            url: `${receiver.url}/enrolled`,
            timeoutMs: 60_000,
            body: { customer: '{{ customer.id }}', course: '{{ event.course }}' },
          },
          { id: 'tag_after', kind: 'crm.tag', add: ['notified'] },
          { id: 'grant_bonus', kind: 'access.grant', resource: 'bonus' },
        ],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const wf = created.body.id as string;

      const N = 8;
      const customers = Array.from({ length: N }, (_, i) => `cus_kill_${i}`);
      for (const c of customers)
        await deliver(first.url, ws, stripeEvent('customer.created', { id: c, email: `${c}@example.com` }, { created: T0 }));
      await waitFor(async () => (await allPages(call, first!.url, '/customers')).length === N, 'customers projected', 30_000);
      for (const [i, c] of customers.entries()) {
        const res = await call(first.url, 'POST', '/events', { type: 'course.bought', data: { customerId: c, course: `course-${i}` } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
      // Kill once some requests hang: those runs are inside their http step, the others anywhere before it.
      await waitFor(async () => receiver.requests.length >= 3, 'requests in flight', 30_000);
      first.proc.kill('SIGKILL');
      await first.exited;
      const beforeKill = receiver.requests.length;

      answering = true;
      second = await startSluiceProcess(env);
      const url = second.url;
      const runs = await waitFor(
        async () => {
          const list = await allPages(call, url, `/workflows/${wf}/runs`);
          return list.length === N && list.every((r) => FINAL.includes(r.status)) ? list : null;
        },
        'every run completed after the restart',
        90_000,
      );
      assert.deepEqual(
        runs.map((r) => r.status),
        Array(N).fill('succeeded'),
        JSON.stringify(runs),
      );

      const tagged = await allPages(call, url, '/messages?type=customer.tagged');
      const granted = await allPages(call, url, '/messages?type=access.granted');
      for (const r of runs) {
        const detail = (await call(url, 'GET', `/runs/${r.id}`)).body;
        assert.deepEqual(
          detail.steps.map((s: any) => [s.stepId, s.status]),
          ['tag', 'set', 'grant', 'notify', 'tag_after', 'grant_bonus'].map((id) => [id, 'succeeded']),
        );
        // Internal steps: one publication per step, whatever the kill interrupted.
        const mine = tagged.filter((m) => m.data.workflow.runId === r.id);
        assert.deepEqual(mine.map((m) => m.data.tags[0]).sort(), ['buyer', 'notified'], `run ${r.id}: each tag step published once`);
        const grants = granted.filter((m) => m.data.workflow.runId === r.id);
        assert.equal(grants.length, 2, `run ${r.id}: each grant step published once`);
        const course = detail.steps.find((s: any) => s.stepId === 'set').output.attributes.course;
        assert.deepEqual(grants.map((m) => m.data.access.resource).sort(), [course, 'bonus'].sort());
        // The http step: every request (before and after the kill) carried the run's key and the frozen body.
        const hits = receiver.requests.filter((q) => q.path === '/enrolled' && q.headers['idempotency-key'] === `${r.id}:notify`);
        assert.ok(hits.length >= 1);
        assert.equal(new Set(hits.map((h) => h.body)).size, 1, 'the same frozen body each time');
        const notify = detail.steps.find((s: any) => s.stepId === 'notify');
        assert.equal(notify.attempts.at(-1).statusCode, 200);
      }
      assert.equal(tagged.length, 2 * N);
      assert.equal(granted.length, 2 * N);
      // The requests that hung at the kill were sent again with the same key.
      const hungKeys = receiver.requests.slice(0, beforeKill).map((q) => q.headers['idempotency-key']);
      for (const key of hungKeys) {
        assert.ok(
          receiver.requests.slice(beforeKill).some((q) => q.headers['idempotency-key'] === key),
          `${String(key)} was repeated after the restart`,
        );
      }
      const customersAfter = await allPages(call, url, '/customers');
      for (const c of customersAfter) assert.deepEqual([...c.tags].sort(), ['buyer', 'notified'], JSON.stringify(c));
    } finally {
      if (first && first.proc.exitCode === null && first.proc.signalCode === null) first.proc.kill('SIGKILL');
      await stop(second);
      await receiver.close();
      await store.drop();
    }
  },
);

test('a 2 s delay survives a restart: the run resumes at its frozen time, not before', { timeout: 180_000 }, async () => {
  const store = await createTestStore();
  const env = baseEnv(store);
  const receiver = await startReceiver();
  let first: SluiceProcess | undefined;
  let second: SluiceProcess | undefined;
  try {
    first = await startSluiceProcess(env);
    const ws = (await api(first.url, 'POST', '/workspaces', { name: 'delay restart' })).body.id as string;
    const call = on(ws);
    const created = await call(first.url, 'POST', '/workflows', {
      name: 'Nudge later',
      trigger: { type: 'onboarding.started' },
      steps: [
        { id: 'mark', kind: 'http', url: `${receiver.url}/mark`, body: { n: '{{ event.n }}' } },
        { id: 'wait', kind: 'delay', for: '2s' },
        { id: 'nudge', kind: 'http', url: `${receiver.url}/nudge`, body: { n: '{{ event.n }}' } },
      ],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const wf = created.body.id as string;
    // A second workflow waits until a time far enough ahead that the restarted process is up when it comes.
    const later = await call(first.url, 'POST', '/workflows', {
      name: 'Nudge at a time',
      trigger: { type: 'onboarding.started' },
      steps: [
        { id: 'wait', kind: 'delay', until: '{{ event.until }}' },
        { id: 'nudge', kind: 'http', url: `${receiver.url}/nudge-at`, body: { n: '{{ event.n }}' } },
      ],
    });
    assert.equal(later.status, 201, JSON.stringify(later.body));
    const wfLater = later.body.id as string;

    const until = new Date(Date.now() + 20_000).toISOString();
    assert.equal((await call(first.url, 'POST', '/events', { type: 'onboarding.started', data: { n: 1, until } })).status, 201);
    await waitFor(async () => {
      const [r1] = (await call(first!.url, 'GET', `/workflows/${wf}/runs`)).body.data;
      const [r2] = (await call(first!.url, 'GET', `/workflows/${wfLater}/runs`)).body.data;
      return r1?.status === 'waiting' && r2?.status === 'waiting';
    }, 'both runs waiting');
    first.proc.kill('SIGTERM');
    assert.equal((await first.exited).code, 0, first.output().slice(-2000));
    assert.ok(!receiver.requests.some((q) => q.path.startsWith('/nudge')), 'nothing resumed before the stop');

    second = await startSluiceProcess(env);
    const restartedAt = Date.now();
    const url = second.url;
    const finished = async (id: string) =>
      waitFor(
        async () => {
          const [r] = (await call(url, 'GET', `/workflows/${id}/runs`)).body.data;
          return r && FINAL.includes(r.status) ? r : null;
        },
        'the run finished after the restart',
        60_000,
      );
    for (const id of [wf, wfLater]) {
      const run = await finished(id);
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      const detail = (await call(url, 'GET', `/runs/${run.id}`)).body;
      const wait = detail.steps.find((s: any) => s.stepId === 'wait');
      const nudge = detail.steps.find((s: any) => s.stepId === 'nudge');
      const resumeAt = Date.parse(wait.output.resumeAt);
      const resumedAt = Date.parse(wait.output.resumedAt);
      // The resume time was frozen at the first attempt and kept across the restart.
      assert.equal(wait.input.resumeAt, wait.output.resumeAt);
      if (id === wf) assert.ok(resumeAt >= Date.parse(wait.createdAt) + 2000, `${wait.createdAt} + 2 s ≤ ${wait.output.resumeAt}`);
      else assert.equal(resumeAt, Date.parse(until));
      assert.ok(resumedAt >= resumeAt, `resumed ${wait.output.resumedAt}, not before ${wait.output.resumeAt}`);
      assert.ok(Date.parse(nudge.createdAt) >= resumeAt, 'the next step was queued at the resume, not before');
      // Not long after: once the resume time had come and a worker was up, the timer fired within a few polls.
      // (A bound on the recorded times with ample room, not on the test's speed.)
      const due = Math.max(resumeAt, restartedAt);
      assert.ok(resumedAt - due < 5000, `resumed ${resumedAt - due} ms after it was due and a worker was up`);
    }
    assert.equal(receiver.requests.filter((q) => q.path === '/mark').length, 1, 'the step before the delay ran once');
    assert.equal(receiver.requests.filter((q) => q.path.startsWith('/nudge')).length, 2);
  } finally {
    if (first && first.proc.exitCode === null && first.proc.signalCode === null) first.proc.kill('SIGKILL');
    await stop(second);
    await receiver.close();
    await store.drop();
  }
});
