// Workflows end to end through the API: triggers on Stripe, Piano, business and custom events; one run per
// (workflow, event) however often the event comes; internal steps exactly once; http steps retried with one
// idempotency key; durable delays; dry runs that send nothing; definitions refused with every problem.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { pianoData, sendPiano } from '../helpers/piano.js';
import { startReceiver, type Answer, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_workflows_test_secret';
const PIANO_KEY = 'PianoTestPrivateKey0123456789abcdefghij';
const AID = 'AppWf123';
const T0 = Math.floor(Date.now() / 1000) - 3600;
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('workflows', () => {
  let app: TestApp;
  let receiver: Receiver;
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, workflowRetryBaseMs: 100 } });
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await app.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  const get = async (ws: string, path: string) => (await call('GET', ws, path)).body;

  async function workspace(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    assert.equal((await call('PUT', ws, '/connections/stripe', { webhookSecrets: [SECRET] })).status, 200);
    return ws;
  }
  async function stripe(ws: string, payload: string): Promise<void> {
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  async function create(ws: string, definition: unknown): Promise<string> {
    const res = await call('POST', ws, '/workflows', definition);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  const runs = async (ws: string, wf: string) => (await get(ws, `/workflows/${wf}/runs`)).data as any[];
  const settled = (ws: string, wf: string, n = 1) =>
    waitFor(async () => {
      const r = await runs(ws, wf);
      return r.length >= n && r.every((x) => ['succeeded', 'failed', 'filtered'].includes(x.status)) ? r : null;
    }, 'runs settled');

  test('an invalid definition is refused with every problem', async () => {
    const ws = await workspace('invalid');
    const res = await call('POST', ws, '/workflows', {
      name: 'bad',
      trigger: { source: 'stripe', object: 'checkout_sesion' },
      steps: [{ id: 'a', kind: 'http', url: 'ftp://x', body: { x: '{{ steps.ghost.output }}' } }],
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    const paths = res.body.error.problems.map((p: any) => p.path);
    assert.ok(paths.includes('trigger.object'), JSON.stringify(paths));
    assert.ok(paths.includes('steps[0].url'));
    assert.ok(paths.includes('steps[0].body.x'));
  });

  test('checkout_session switch: the same event three times and replayed gives one run, one grant, one request', async () => {
    const ws = await workspace('checkout');
    receiver.requests.length = 0;
    const wf = await create(ws, {
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
    await stripe(ws, stripeEvent('customer.created', { id: 'cus_buyer', email: 'buyer@example.com' }, { created: T0 }));
    const completed = stripeEvent(
      'checkout.session.completed',
      {
        id: 'cs_1',
        object: 'checkout.session',
        customer: 'cus_buyer',
        payment_status: 'paid',
        status: 'complete',
        mode: 'payment',
        amount_total: 4900,
        currency: 'eur',
      },
      { created: T0 + 10 },
    );
    for (let i = 0; i < 3; i++) await stripe(ws, completed);
    const [run] = await settled(ws, wf);
    const evt = (await get(ws, '/events?type=checkout.session.completed')).data[0];
    assert.equal((await call('POST', ws, `/events/${evt.id}/replay`)).status, 202);
    const replay = await call('POST', ws, `/workflows/${wf}/replay`, { eventIds: [evt.id] });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.equal(replay.body.data[0].created, false);
    await waitFor(async () => (await get(ws, '/events?status=received')).data.length === 0, 'replay processed');
    await new Promise((r) => setTimeout(r, 500));

    assert.equal((await runs(ws, wf)).length, 1, 'one run');
    const detail = await get(ws, `/runs/${run.id}`);
    assert.equal(detail.status, 'succeeded', JSON.stringify(detail));
    assert.deepEqual(
      detail.steps.map((s: any) => [s.stepId, s.status]),
      [
        ['route', 'succeeded'],
        ['grant', 'succeeded'],
        ['notify', 'succeeded'],
      ],
    );
    const access = (await get(ws, '/access')).data.filter((a: any) => a.provider === 'workflows' || a.source === 'workflows');
    assert.equal(access.length, 1, JSON.stringify(access));
    assert.equal((await get(ws, '/messages?type=access.granted')).data.length, 1, 'access.granted once');
    const hits = receiver.requests.filter((r) => r.path === '/enrolled');
    assert.equal(new Set(hits.map((h) => h.headers['idempotency-key'])).size, 1);
    assert.equal(hits[0]!.headers['idempotency-key'], `${run.id}:notify`);
    assert.deepEqual(JSON.parse(hits[0]!.body), { email: 'buyer@example.com', session: 'cs_1' });

    // expired takes the other case: a tag, and customer.tagged once.
    await stripe(
      ws,
      stripeEvent(
        'checkout.session.expired',
        { id: 'cs_2', object: 'checkout.session', customer: 'cus_buyer', status: 'expired' },
        { created: T0 + 20 },
      ),
    );
    await settled(ws, wf, 2);
    const customer = (await get(ws, '/customers')).data.find((c: any) => c.providerId === 'cus_buyer');
    const tagged = (await get(ws, '/messages?type=customer.tagged')).data;
    assert.equal(tagged.length, 1);
    assert.deepEqual(tagged[0].data.tags, ['checkout-expired']);
    assert.equal(tagged[0].data.customer.id, customer.id);
  });

  test('a subscription.canceled workflow fires once for a Stripe cancellation and once for a Piano one', async () => {
    const ws = await workspace('canceled');
    assert.equal((await call('PUT', ws, '/connections/piano', { aid: AID, privateKey: PIANO_KEY })).status, 200);
    const wf = await create(ws, {
      name: 'On cancel',
      trigger: { source: 'sluice', object: 'subscription', actions: ['canceled'] },
      steps: [{ id: 'tag', kind: 'crm.tag', add: ['canceled'] }],
    });
    const sub = (extra: Record<string, unknown>) => ({
      id: 'sub_c',
      object: 'subscription',
      customer: 'cus_c',
      status: 'active',
      cancel_at_period_end: false,
      current_period_start: T0,
      current_period_end: T0 + 30 * 86400,
      items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_gold', product: 'prod_gold' }, quantity: 1 }] },
      ...extra,
    });
    await stripe(ws, stripeEvent('customer.subscription.created', sub({}), { created: T0 }));
    const cancel = stripeEvent('customer.subscription.updated', sub({ cancel_at_period_end: true }), { created: T0 + 10 });
    await stripe(ws, cancel);
    await stripe(ws, cancel);
    await sendPiano(
      app.url,
      ws,
      pianoData(
        {
          version: 2,
          aid: AID,
          uid: 'reader1',
          type: 'subscription_auto_renew_changed',
          subscription_id: 'RCPiano1',
          auto_renew: false,
          term_id: 'TM1',
        },
        PIANO_KEY,
      ),
    );
    const done = await settled(ws, wf, 2);
    await new Promise((r) => setTimeout(r, 300));
    const all = await runs(ws, wf);
    assert.equal(all.length, 2, JSON.stringify(all));
    assert.ok(
      done.every((r: any) => r.status === 'succeeded'),
      JSON.stringify(done),
    );
    const canceled = (await get(ws, '/messages?type=subscription.canceled')).data;
    assert.equal(canceled.length, 2);
    assert.deepEqual(new Set(all.map((r: any) => r.trigger.messageId)), new Set(canceled.map((m: any) => m.id)));
    // One from each provider, both through the same business event.
    assert.deepEqual(canceled.map((m: any) => m.source.provider).sort(), ['piano', 'stripe']);
    assert.deepEqual(
      all.map((r: any) => [r.trigger.source, r.trigger.type]),
      [
        ['sluice', 'subscription.canceled'],
        ['sluice', 'subscription.canceled'],
      ],
    );
  });

  test('a receiver failing twice: the http step succeeds on its third attempt, earlier steps not repeated', async () => {
    const ws = await workspace('flaky');
    const flaky = await startReceiver((_r, n): Answer => {
      if (n === 1) return { status: 503 };
      if (n === 2) return { status: 429, headers: { 'retry-after': '1' } };
      return { status: 200, body: '{"ok":true}' };
    });
    try {
      await call('PUT', ws, '/secrets/TOKEN', { value: 'sekret-value-123' });
      const wf = await create(ws, {
        name: 'Flaky',
        trigger: { type: 'course.enrolled' },
        steps: [
          { id: 'tag', kind: 'crm.tag', add: ['enrolled'] },
          { id: 'set', kind: 'crm.set', attributes: { course: '{{ event.course }}' } },
          {
            id: 'call',
            kind: 'http',
            url: `${flaky.url}/hook`,
            headers: { authorization: 'Bearer {{ secrets.TOKEN }}' },
            body: { course: '{{ event.course }}' },
          },
        ],
      });
      await stripe(ws, stripeEvent('customer.created', { id: 'cus_flaky', email: 'f@example.com' }, { created: T0 }));
      await waitFor(async () => (await get(ws, '/customers')).data.length === 1, 'customer');
      assert.equal(
        (await call('POST', ws, '/events', { type: 'course.enrolled', data: { course: 'c1', customerId: 'cus_flaky' } })).status,
        201,
      );
      const [run] = await settled(ws, wf);
      const detail = await get(ws, `/runs/${run.id}`);
      assert.equal(detail.status, 'succeeded', JSON.stringify(detail));
      const [tag, set, callStep] = detail.steps;
      assert.equal(set.attempts.length, 0);
      assert.deepEqual(set.output.attributes, { course: 'c1' });
      assert.deepEqual(tag.output.added, ['enrolled']);
      // The steps before the http step ran once while it was retried: one customer.tagged, each claimed once.
      const tagged = (await get(ws, '/messages?type=customer.tagged')).data;
      assert.equal(tagged.length, 1);
      assert.equal(tagged[0].data.workflow.runId, run.id);
      const claims = await app.db.query<{ stepId: string; attempts: number }>(
        'SELECT step_id AS "stepId", attempts FROM workflow_steps WHERE run_id = $1 ORDER BY created_at, id',
        [run.id],
      );
      assert.deepEqual(
        claims.rows.map((r) => [r.stepId, r.attempts]),
        [
          ['tag', 1],
          ['set', 1],
          ['call', 3],
        ],
      );
      assert.deepEqual(
        callStep.attempts.map((a: any) => a.statusCode),
        [503, 429, 200],
      );
      assert.equal(callStep.input.headers.authorization, 'Bearer ⟦secret:TOKEN⟧', 'the frozen input holds no secret');
      assert.equal(flaky.requests.length, 3);
      assert.equal(new Set(flaky.requests.map((r) => r.headers['idempotency-key'])).size, 1);
      assert.equal(flaky.requests[0]!.headers.authorization, 'Bearer sekret-value-123');
      assert.ok(!JSON.stringify(detail).includes('sekret-value-123'));
      assert.deepEqual(
        (await get(ws, '/secrets')).data.map((s: any) => s.name),
        ['TOKEN'],
      );
    } finally {
      await flaky.close();
    }
  });

  test('a failed run is retried from its failed step only, with its frozen input', async () => {
    const ws = await workspace('retry');
    let up = false;
    const r = await startReceiver(() => (up ? { status: 200 } : { status: 400 }));
    try {
      const wf = await create(ws, {
        name: 'Retry',
        trigger: { type: 'lesson.done' },
        steps: [
          { id: 'emit', kind: 'event.emit', type: 'lesson.logged', data: { n: '{{ event.n }}' } },
          { id: 'call', kind: 'http', url: `${r.url}/x`, body: { n: '{{ event.n }}' } },
        ],
      });
      await call('POST', ws, '/events', { type: 'lesson.done', data: { n: 7 } });
      const [run] = await settled(ws, wf);
      assert.equal(run.status, 'failed');
      up = true;
      const retried = await call('POST', ws, `/runs/${run.id}/retry`);
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      await waitFor(async () => (await get(ws, `/runs/${run.id}`)).status === 'succeeded', 'retried run succeeded');
      assert.equal((await get(ws, '/messages?type=lesson.logged')).data.length, 1, 'the emit step ran once');
      assert.equal(new Set(r.requests.map((q) => q.headers['idempotency-key'])).size, 1);
      assert.equal((await call('POST', ws, `/runs/${run.id}/retry`)).status, 409);
    } finally {
      await r.close();
    }
  });

  test('a 2 s delay waits without a worker and resumes on time', async () => {
    const ws = await workspace('delay');
    receiver.requests.length = 0;
    const wf = await create(ws, {
      name: 'Later',
      trigger: { source: 'custom', object: 'trial', actions: ['nudge'] },
      steps: [
        { id: 'wait', kind: 'delay', for: '2s' },
        { id: 'ping', kind: 'http', url: `${receiver.url}/later`, body: { at: '{{ trigger.created }}' } },
      ],
    });
    await call('POST', ws, '/events', { type: 'trial.nudge', data: {} });
    await waitFor(async () => (await runs(ws, wf))[0]?.status === 'waiting', 'waiting');
    const held = await app.db.query('SELECT 1 FROM workflow_steps WHERE workspace_id = $1 AND locked_by IS NOT NULL', [ws]);
    assert.equal(held.rows.length, 0, 'no step held by a worker while the run waits');
    assert.ok(!receiver.requests.some((q) => q.path === '/later'), 'nothing sent before the delay is over');
    const [run] = await settled(ws, wf);
    assert.equal(run.status, 'succeeded');
    const detail = await get(ws, `/runs/${run.id}`);
    const [wait, ping] = detail.steps;
    const resumeAt = Date.parse(wait.output.resumeAt);
    assert.ok(resumeAt >= Date.parse(wait.createdAt) + 2000, 'the resume time is 2 s after the step was reached');
    assert.ok(Date.parse(wait.output.resumedAt) >= resumeAt, 'resumed at, not before, the frozen time');
    assert.ok(Date.parse(ping.createdAt) >= resumeAt);
    assert.ok(receiver.requests.find((q) => q.path === '/later')!.at >= resumeAt);
  });

  test('a dry run renders every step and sends nothing', async () => {
    const ws = await workspace('dry');
    receiver.requests.length = 0;
    const wf = await create(ws, {
      name: 'Dry',
      trigger: { source: 'stripe', object: 'invoice', actions: ['payment_failed'], if: 'event.amount_due > 5000' },
      steps: [
        { id: 'tag', kind: 'crm.tag', add: ['dunning'] },
        { id: 'slack', kind: 'slack', webhook: `${receiver.url}/slack`, text: 'Failed: {{ event.amount_due }}' },
        { id: 'discord', kind: 'discord', webhook: `${receiver.url}/discord`, content: 'Failed {{ event.id }}' },
      ],
    });
    const payload = JSON.parse(stripeEvent('invoice.payment_failed', { id: 'in_1', object: 'invoice', amount_due: 9000 }));
    const res = await call('POST', ws, `/workflows/${wf}/test`, { payload });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.matched, true);
    assert.equal(res.body.filtered, false);
    assert.deepEqual(
      res.body.steps.map((s: any) => s.status),
      ['would_run', 'would_run', 'would_run'],
    );
    assert.deepEqual(res.body.steps[1].request.body, { text: 'Failed: 9000' });
    assert.match(res.body.steps[2].request.url, /\/discord\?wait=true$/);
    const low = await call('POST', ws, `/workflows/${wf}/test`, {
      payload: { ...payload, data: { object: { id: 'in_2', amount_due: 10 } } },
    });
    assert.equal(low.body.filtered, true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 0, 'nothing sent');
    assert.equal((await runs(ws, wf)).length, 0, 'no run');
  });

  test('a dry run of a stored event with a customer writes, publishes and sends nothing', async () => {
    const ws = await workspace('dry-stored');
    receiver.requests.length = 0;
    const endpoint = await call('POST', ws, '/endpoints', { url: `${receiver.url}/endpoint`, eventTypes: ['course.enrolled'] });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    // Disabled: the stored event starts no live run, so whatever appears would be the dry run's.
    const wf = await create(ws, {
      name: 'Dry, every kind',
      enabled: false,
      trigger: { source: 'stripe', object: 'checkout_session', actions: ['completed'] },
      steps: [
        { id: 'tag', kind: 'crm.tag', add: ['buyer'] },
        { id: 'set', kind: 'crm.set', attributes: { plan: 'gold' } },
        { id: 'grant', kind: 'access.grant', resource: 'course-101' },
        { id: 'emit', kind: 'event.emit', type: 'course.enrolled', data: { email: '{{ customer.email }}' } },
        { id: 'send', kind: 'webhook.send', type: 'course.enrolled', data: { session: '{{ event.id }}' } },
        { id: 'wait', kind: 'delay', for: '1h' },
        { id: 'notify', kind: 'http', url: `${receiver.url}/notify`, body: { email: '{{ customer.email }}' } },
      ],
    });
    await stripe(ws, stripeEvent('customer.created', { id: 'cus_dry', email: 'dry@example.com' }, { created: T0 }));
    await stripe(
      ws,
      stripeEvent(
        'checkout.session.completed',
        { id: 'cs_dry', object: 'checkout.session', customer: 'cus_dry', payment_status: 'paid' },
        { created: T0 + 5 },
      ),
    );
    await waitFor(async () => (await get(ws, '/events?status=processed')).data.length === 2, 'events processed');
    const evt = (await get(ws, '/events?type=checkout.session.completed')).data[0];
    const count = async () => {
      const { rows } = await app.db.query<{ messages: string; runs: string; steps: string; triggers: string; access: string }>(
        `SELECT (SELECT count(*) FROM messages WHERE workspace_id = $1) AS messages,
                (SELECT count(*) FROM workflow_runs WHERE workspace_id = $1) AS runs,
                (SELECT count(*) FROM workflow_steps WHERE workspace_id = $1) AS steps,
                (SELECT count(*) FROM workflow_triggers WHERE workspace_id = $1) AS triggers,
                (SELECT count(*) FROM access WHERE workspace_id = $1) AS access`,
        [ws],
      );
      return rows[0];
    };
    const customerBefore = (await get(ws, '/customers')).data.find((c: any) => c.providerId === 'cus_dry');
    const before = await count();
    const res = await call('POST', ws, `/workflows/${wf}/test`, { eventId: evt.id });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.matched, true);
    assert.equal(res.body.sent, false);
    assert.deepEqual(
      res.body.steps.map((x: any) => [x.stepId, x.status]),
      ['tag', 'set', 'grant', 'emit', 'send', 'wait', 'notify'].map((id) => [id, 'would_run']),
    );
    const notify = res.body.steps.find((x: any) => x.stepId === 'notify');
    assert.deepEqual(notify.request.body, { email: 'dry@example.com' });
    assert.match(notify.would, /^would POST http:\/\/127\.0\.0\.1:\d+\/notify with \{"email":"dry@example\.com"\}$/);
    assert.equal(res.body.steps.find((x: any) => x.stepId === 'emit').input.data.email, 'dry@example.com');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await count(), before, 'no message, run, step, trigger or access row');
    assert.equal(receiver.requests.length, 0, 'the receiver and the endpoint saw nothing');
    const customerAfter = (await get(ws, '/customers')).data.find((c: any) => c.providerId === 'cus_dry');
    assert.deepEqual(customerAfter.tags ?? [], customerBefore.tags ?? []);
    assert.deepEqual(customerAfter.attributes ?? {}, customerBefore.attributes ?? {});
  });

  test('an edit is a new version; runs stay pinned; a false trigger if gives a filtered run', async () => {
    const ws = await workspace('versions');
    const wf = await create(ws, {
      name: 'V',
      trigger: { type: 'order.shipped', if: "event.carrier == 'dhl'" },
      steps: [{ id: 'set', kind: 'crm.set', attributes: { shipped: true } }],
    });
    const patched = await call('PATCH', ws, `/workflows/${wf}`, {
      steps: [{ id: 'set2', kind: 'crm.set', attributes: { shipped: 'yes' } }],
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.version, 2);
    assert.equal((await get(ws, `/workflows/${wf}/versions`)).data.length, 2);
    await call('POST', ws, '/events', { type: 'order.shipped', data: { carrier: 'ups' } });
    const [run] = await settled(ws, wf);
    assert.equal(run.status, 'filtered');
    assert.equal(run.version, 2);
    assert.equal((await get(ws, `/workflows/${wf}/runs?status=filtered`)).data.length, 1);
    assert.equal((await call('DELETE', ws, `/workflows/${wf}`)).status, 204);
    assert.equal((await call('GET', ws, `/workflows/${wf}`)).status, 404);
  });
});
