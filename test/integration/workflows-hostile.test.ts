// Workflows given hostile input: a loop of emits, a template reading a field that is not there, a step aimed at a
// private address, payloads that are huge or deeply nested. Each ends as a recorded failure (or a clear refusal),
// never a crash, a run that spins for ever, or a worker that stops taking work: after each, an unrelated event still
// gets its run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWorkflowWorker, type WorkflowWorker } from '../../src/jobs/workflow-worker.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { pianoData, sendPiano } from '../helpers/piano.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_workflows_hostile_secret';
const PIANO_KEY = 'PianoHostilePrivateKey0123456789abcdefgh';
const AID = 'AppHostile1';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const FINAL = ['succeeded', 'failed', 'filtered'];

describe('workflows given hostile input', () => {
  let app: TestApp;
  let receiver: Receiver;
  /** A workflow worker started by a test in place of the app's (stopped at the end). */
  let replacement: WorkflowWorker | undefined;
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, workflowRetryBaseMs: 50 } });
    receiver = await startReceiver();
  });
  after(async () => {
    await replacement?.stop(5000);
    await receiver.close();
    await app.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  const get = async (ws: string, path: string) => (await call('GET', ws, path)).body;
  const runs = async (ws: string, wf: string) => (await get(ws, `/workflows/${wf}/runs?limit=100`)).data as any[];
  const run = (ws: string, id: string) => get(ws, `/runs/${id}`);

  async function workspace(name: string): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    assert.equal((await call('PUT', ws, '/connections/stripe', { webhookSecrets: [SECRET] })).status, 200);
    return ws;
  }
  async function create(ws: string, definition: unknown): Promise<string> {
    const res = await call('POST', ws, '/workflows', definition);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  async function publish(ws: string, type: string, data: unknown): Promise<void> {
    const res = await call('POST', ws, '/events', { type, data });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const settled = (ws: string, wf: string, n = 1, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const r = await runs(ws, wf);
        return r.length >= n && r.every((x) => FINAL.includes(x.status)) ? r : null;
      },
      `${n} runs settled`,
      timeoutMs,
    );
  /** Nothing more happens: the queues of this workspace are empty (no pending trigger, no pending step). */
  const quiet = (ws: string) =>
    waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM workflow_triggers WHERE workspace_id = $1 AND status = 'pending')
              + (SELECT count(*) FROM workflow_steps WHERE workspace_id = $1 AND status = 'pending') AS n`,
        [ws],
      );
      return Number(rows[0]!.n) === 0;
    }, 'no pending trigger or step');

  async function postStripeCustomer(ws: string, id: string): Promise<void> {
    const payload = stripeEvent('customer.created', { id, email: `${id}@example.com` });
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitFor(async () => (await get(ws, '/customers')).data.some((c: any) => c.providerId === id), 'customer projected');
  }

  /** The worker still takes work: a fresh workflow on a fresh event type runs to success. */
  async function workerStillWorks(ws: string): Promise<void> {
    const wf = await create(ws, {
      name: 'Canary',
      trigger: { type: 'canary.sang' },
      steps: [{ id: 'ping', kind: 'http', url: `${receiver.url}/canary`, body: { ok: true } }],
    });
    await publish(ws, 'canary.sang', {});
    const [r] = await settled(ws, wf);
    assert.equal(r.status, 'succeeded', JSON.stringify(r));
  }

  test("a member key writes no workflow (a definition can send the workspace's secrets anywhere); it may still try one", async () => {
    const ws = await workspace('Member keys');
    assert.equal((await call('PUT', ws, '/secrets/TOKEN', { value: 'member-must-not-see-this' })).status, 200);
    const member = (await call('POST', ws, '/api-keys', { name: 'ops', role: 'member' })).body.key as string;
    const asMember = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body, member);
    const leak = {
      name: 'Leak',
      trigger: { type: 'leak.now' },
      steps: [{ id: 'out', kind: 'http', url: `${receiver.url}/leak`, headers: { 'x-leak': '{{ secrets.TOKEN }}' }, body: {} }],
    };
    const created = await asMember('POST', '/workflows', leak);
    assert.equal(created.status, 403, JSON.stringify(created.body));
    assert.equal(created.body.error.code, 'FORBIDDEN');
    const wf = await create(ws, { ...leak, name: 'Admin made', steps: [{ id: 'tag', kind: 'crm.tag', add: ['x'] }] });
    for (const [method, body] of [
      ['PATCH', leak],
      ['PATCH', { enabled: false }],
      ['DELETE', undefined],
    ] as const) {
      assert.equal((await asMember(method, `/workflows/${wf}`, body)).status, 403, `${method} ${JSON.stringify(body)}`);
    }
    const stored = await get(ws, `/workflows/${wf}`);
    assert.deepEqual([stored.version, stored.enabled, stored.steps[0].kind], [1, true, 'crm.tag']);
    assert.equal((await get(ws, '/workflows')).data.length, 1);
    // Trying it sends nothing, so a member may.
    const tried = await asMember('POST', `/workflows/${wf}/test`, { payload: {} });
    assert.equal(tried.status, 200, JSON.stringify(tried.body));
    await publish(ws, 'leak.now', {});
    await settled(ws, wf);
    assert.equal(receiver.requests.filter((r) => r.path === '/leak').length, 0);
  });

  test('a workflow emitting its own trigger stops at the depth limit with a recorded failure', async () => {
    const ws = await workspace('loop');
    const wf = await create(ws, {
      name: 'Echo',
      trigger: { type: 'loop.ping' },
      steps: [{ id: 'again', kind: 'event.emit', type: 'loop.ping', data: { hop: '{{ has(event.hop) ? event.hop + 1 : 1 }}' } }],
    });
    await publish(ws, 'loop.ping', {});
    // Depths 0 to 8 emit (the run at depth 8 is refused): 9 runs, the last one failed.
    const all = await settled(ws, wf, 9);
    await quiet(ws);
    const final = await runs(ws, wf);
    assert.equal(final.length, 9, 'no run past the depth limit');
    assert.deepEqual(
      final.map((r) => r.depth).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    const failed = final.filter((r) => r.status === 'failed');
    assert.equal(failed.length, 1, JSON.stringify(all));
    assert.equal(failed[0].depth, 8);
    assert.match(failed[0].error, /runs deep .*loop/);
    const detail = await run(ws, failed[0].id);
    assert.equal(detail.steps[0].status, 'failed');
    assert.match(detail.steps[0].error, /at most 8/);
    // Eight emits published, each once: the hops 1 to 8.
    const emitted = (await get(ws, '/messages?type=loop.ping&limit=100')).data as any[];
    assert.equal(emitted.length, 9, 'the first event and eight emits');
    assert.deepEqual(
      emitted.map((m) => m.data.hop ?? 0).sort((a: number, b: number) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    await workerStillWorks(ws);
  });

  test('two workflows emitting each other’s triggers stop at the depth limit too', async () => {
    const ws = await workspace('ping-pong');
    const ping = await create(ws, {
      name: 'Ping',
      trigger: { source: 'custom', object: 'ball', actions: ['served'] },
      steps: [{ id: 'hit', kind: 'event.emit', type: 'ball.returned', data: {} }],
    });
    const pong = await create(ws, {
      name: 'Pong',
      trigger: { source: 'custom', object: 'ball', actions: ['returned'] },
      steps: [{ id: 'hit', kind: 'event.emit', type: 'ball.served', data: {} }],
    });
    await publish(ws, 'ball.served', {});
    await settled(ws, ping, 5);
    await settled(ws, pong, 4);
    await quiet(ws);
    const all = [...(await runs(ws, ping)), ...(await runs(ws, pong))];
    assert.equal(all.length, 9, JSON.stringify(all.map((r) => [r.workflowId, r.depth, r.status])));
    assert.deepEqual(
      all.filter((r) => r.status === 'failed').map((r) => r.depth),
      [8],
    );
    await workerStillWorks(ws);
  });

  test('workflows tagging and untagging each other (no emit step) stop at the depth limit too', async () => {
    const ws = await workspace('tag-pong');
    await postStripeCustomer(ws, 'cus_pong');
    // customer.tagged starts an untag, customer.untagged a tag: each run publishes what starts the other.
    const untag = await create(ws, {
      name: 'Untag',
      trigger: { source: 'sluice', object: 'customer', actions: ['tagged'] },
      steps: [{ id: 'untag', kind: 'crm.untag', remove: ['ping'] }],
    });
    const tag = await create(ws, {
      name: 'Tag',
      trigger: { source: 'sluice', object: 'customer', actions: ['untagged'] },
      steps: [{ id: 'tag', kind: 'crm.tag', add: ['ping'] }],
    });
    const start = await create(ws, {
      name: 'Start',
      trigger: { type: 'pong.start' },
      steps: [{ id: 'tag', kind: 'crm.tag', add: ['ping'] }],
    });
    await publish(ws, 'pong.start', { customerId: 'cus_pong' });
    await settled(ws, start);
    await quiet(ws);
    const all = [...(await runs(ws, start)), ...(await runs(ws, untag)), ...(await runs(ws, tag))];
    assert.ok(all.length <= 10, `${all.length} runs: the chain did not stop`);
    assert.deepEqual(
      all.filter((r) => r.status === 'failed').map((r) => r.depth),
      [9],
      JSON.stringify(all.map((r) => [r.depth, r.status, r.error])),
    );
    assert.match(all.find((r) => r.status === 'failed').error, /loop/);
    await workerStillWorks(ws);
  });

  test('a template reading a missing field is a recorded step failure that says what to write instead', async () => {
    const ws = await workspace('missing-field');
    receiver.requests.length = 0;
    const wf = await create(ws, {
      name: 'Reads too much',
      trigger: { type: 'order.placed' },
      steps: [
        { id: 'first', kind: 'http', url: `${receiver.url}/first`, body: { ok: true } },
        { id: 'notify', kind: 'http', url: `${receiver.url}/notify`, body: { course: '{{ event.metadata.course }}' } },
      ],
    });
    await publish(ws, 'order.placed', { metadata: { plan: 'gold' } });
    const [r] = await settled(ws, wf);
    assert.equal(r.status, 'failed');
    const detail = await run(ws, r.id);
    const notify = detail.steps.find((s: any) => s.stepId === 'notify');
    assert.equal(notify.status, 'failed');
    assert.match(notify.error, /^steps\[1\]\.body\.course: in \{\{ event\.metadata\.course \}\}: event\.metadata has no field "course"/);
    assert.match(notify.error, /has\(event\.metadata\.course\)/);
    assert.deepEqual(notify.attempts, [], 'nothing was sent: the input never rendered');
    assert.match(detail.error, /step notify: steps\[1\]\.body\.course/);
    assert.deepEqual(
      receiver.requests.map((q) => q.path),
      ['/first'],
    );
    await workerStillWorks(ws);
  });

  test('a step aimed at a private address is a recorded failure, not a request', async () => {
    const ws = await workspace('ssrf');
    const wf = await create(ws, {
      name: 'Metadata',
      trigger: { type: 'probe.sent' },
      steps: [
        {
          id: 'probe',
          kind: 'http',
          url: '{{ event.target }}',
          method: 'GET',
          onError: 'continue',
        },
      ],
    });
    const targets = [
      'http://169.254.169.254/latest/meta-data/',
      'http://10.255.255.1/admin',
      `http://[::1]:${new URL(receiver.url).port}/x`,
    ];
    for (const target of targets) await publish(ws, 'probe.sent', { target });
    const done = await settled(ws, wf, targets.length);
    for (const r of done) {
      const detail = await run(ws, r.id);
      const probe = detail.steps[0];
      assert.equal(probe.status, 'failed', JSON.stringify(detail));
      assert.match(probe.error, /^blocked: /);
      assert.equal(probe.attempts.length, 1, 'refused at once, not retried');
      assert.equal(probe.attempts[0].statusCode, null);
    }
    assert.ok(!receiver.requests.some((q) => q.path === '/x'), 'nothing reached the loopback receiver over ::1');
    await workerStillWorks(ws);
  });

  test('a huge custom event and a deeply nested one do not crash the worker', async () => {
    const ws = await workspace('huge');
    receiver.requests.length = 0;
    const wf = await create(ws, {
      name: 'Big',
      trigger: { type: 'bulk.loaded', if: 'event.items.exists(i, i == 7)' },
      steps: [
        { id: 'count', kind: 'http', url: `${receiver.url}/count`, body: { n: '{{ size(event.items) }}', deep: '{{ event.deep }}' } },
      ],
    });
    // About 160 KB: 40,000 numbers (a custom event's data is at most 256 KiB).
    const items = Array.from({ length: 40_000 }, (_, i) => i % 1000);
    let deep: unknown = 'bottom';
    for (let i = 0; i < 60; i++) deep = { d: deep };
    await publish(ws, 'bulk.loaded', { items, deep });
    await publish(ws, 'bulk.loaded', { items: [7], deep });
    const done = await settled(ws, wf, 2);
    const big = done.find((r) => r.status !== 'succeeded');
    const small = done.find((r) => r.status === 'succeeded');
    assert.ok(small, JSON.stringify(done));
    assert.ok(big, JSON.stringify(done));
    // The big one: the condition is refused before it runs (its worst case is over the evaluation budget).
    assert.equal(big.status, 'failed');
    assert.match(big.error, /trigger\.if: evaluation refused: with a list of 40000 items/);
    const hit = receiver.requests.find((q) => q.path === '/count')!;
    const body = JSON.parse(hit.body);
    assert.equal(body.n, 1);
    let depth = 0;
    for (let d = body.deep; typeof d === 'object'; d = d.d) depth++;
    assert.equal(depth, 60, 'the nested value went through whole');
    await workerStillWorks(ws);
  });

  test('Stripe events nested deep: 990 levels run whole, 5,000 are refused at processing; neither holds up the others', async () => {
    const ws = await workspace('deep-stripe');
    receiver.requests.length = 0;
    const wf = await create(ws, {
      name: 'Any session',
      trigger: { source: 'stripe', object: 'checkout_session' },
      steps: [
        {
          id: 'ping',
          kind: 'http',
          url: `${receiver.url}/session`,
          body: { id: '{{ event.id }}', metadata: '{{ event.?metadata.orValue(null) }}' },
        },
      ],
    });
    const nestedJson = (levels: number) => {
      let nested = '"bottom"';
      for (let i = 0; i < levels; i++) nested = `{"d":${nested}}`;
      return nested;
    };
    const session = (id: string, levels: number) =>
      stripeEvent('checkout.session.completed', { id, object: 'checkout.session' }).replace(
        '"object":"checkout.session"',
        `"object":"checkout.session"${levels > 0 ? `,"metadata":${nestedJson(levels)}` : ''}`,
      );
    for (const payload of [session('cs_deep', 990), session('cs_too_deep', 5000), session('cs_plain', 0)]) {
      const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const done = await settled(ws, wf, 2);
    await quiet(ws);
    assert.equal((await runs(ws, wf)).length, 2, 'no run for the event that could not be processed');
    assert.deepEqual(
      done.map((r) => r.status),
      ['succeeded', 'succeeded'],
    );
    const bodies = receiver.requests.filter((q) => q.path === '/session').map((q) => JSON.parse(q.body));
    assert.deepEqual(bodies.map((b) => b.id).sort(), ['cs_deep', 'cs_plain']);
    let depth = 0;
    for (let d = bodies.find((b) => b.id === 'cs_deep').metadata; typeof d === 'object'; d = d.d) depth++;
    assert.equal(depth, 990, 'the nested metadata went through whole');
    const refused = (await get(ws, '/events?status=failed')).data as any[];
    assert.equal(refused.length, 1);
    assert.match(refused[0].error, /nested more than 1000 levels/);
    await workerStillWorks(ws);
  });

  test('a Piano event whose timestamp is no representable time still starts its run (trigger.created is null)', async () => {
    const ws = await workspace('piano-time');
    assert.equal((await call('PUT', ws, '/connections/piano', { aid: AID, privateKey: PIANO_KEY })).status, 200);
    receiver.requests.length = 0;
    const wf = await create(ws, {
      name: 'Piano users',
      trigger: { source: 'piano', object: 'user', if: 'trigger.created == null' },
      steps: [{ id: 'ping', kind: 'http', url: `${receiver.url}/piano`, body: { uid: '{{ event.uid }}' } }],
    });
    // 9e12 is a time to Piano ingest (read as milliseconds: year 2255), but year 287,000 as seconds.
    const res = await sendPiano(
      app.url,
      ws,
      pianoData({ version: 2, aid: AID, uid: 'far', type: 'user_updated', timestamp: 9e12 }, PIANO_KEY),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [r] = await settled(ws, wf);
    assert.equal(r.status, 'succeeded', JSON.stringify(r));
    assert.deepEqual(JSON.parse(receiver.requests.find((q) => q.path === '/piano')!.body), { uid: 'far' });
  });

  // Last: it replaces the app's workflow worker.
  test('a message that cannot start its runs is retried alone; the rest of its batch starts theirs', async () => {
    const broken = await workspace('broken-definition');
    const fine = await workspace('fine-neighbour');
    const bad = await create(broken, {
      name: 'Broken',
      trigger: { type: 'batch.one' },
      steps: [{ id: 'x', kind: 'crm.set', attributes: { a: 1 } }],
    });
    const good = await create(fine, {
      name: 'Fine',
      trigger: { type: 'batch.two' },
      steps: [{ id: 'ping', kind: 'http', url: `${receiver.url}/fine`, body: {} }],
    });
    // A stored definition that no longer compiles (as after an upgrade that dropped a step kind).
    await app.db.query(
      `UPDATE workflow_versions SET definition = jsonb_set(definition, '{steps,0,kind}', '"teleport"') WHERE workflow_id = $1`,
      [bad],
    );
    // Both messages wait for one claim: the worker is stopped while they are published.
    await app.workflows!.stop(5000);
    await publish(broken, 'batch.one', {});
    await publish(fine, 'batch.two', {});
    replacement = startWorkflowWorker(app.ctx);
    const [r] = await settled(fine, good);
    assert.equal(r.status, 'succeeded', JSON.stringify(r));
    const { rows } = await app.db.query<{ status: string; attempts: number; error: string }>(
      'SELECT status, attempts, last_error AS error FROM workflow_triggers WHERE workspace_id = $1',
      [broken],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.status, 'pending', 'retried later');
    assert.match(rows[0]!.error, /no longer validates/);
    assert.equal((await runs(broken, bad)).length, 0);
  });
});
