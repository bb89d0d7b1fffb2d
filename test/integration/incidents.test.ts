// The incident inbox and the lag sample: processing stopped with events arriving opens processing_backlog and
// resolving it announces incident.resolved, each exactly once at a real receiver; webhook_lag with hysteresis;
// the transitions people make by hand and their refusals; ignore suppresses; a recurrence after a resolve
// opens a new incident linked to the old one; health, metrics and the CLI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { saveParityPolicy } from '../../src/db/queries/parity-settings.js';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/jobs/delivery-worker.js';
import { startEventWorker, type EventWorker } from '../../src/jobs/event-worker.js';
import { DEFAULT_POLICY } from '../../src/parity/policy.js';
import { raiseIncident, settleSubject, type IncidentFact } from '../../src/services/incidents/raise-incident.js';
import { sampleLag } from '../../src/services/incidents/sample-lag.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { runSluice, startSluiceProcess } from '../helpers/sluice-process.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_incidents_test_secret';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

/** The incident.* messages a receiver got, by type and incident id. */
function announced(receiver: Receiver): { type: string; id: string; status: string }[] {
  return receiver.requests
    .map((r) => JSON.parse(r.body))
    .filter((m) => m.type.startsWith('incident.'))
    .map((m) => ({ type: m.type, id: m.data.incident.id, status: m.data.incident.status }));
}

async function settle(ms = 600): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('processing stopped for a minute with events arriving', () => {
  let app: TestApp;
  let offset = 0;
  let sender: DeliveryWorker;
  let worker: EventWorker | undefined;
  let receiver: Receiver;
  before(async () => {
    // No event worker: processing is stopped. Deliveries still go out (their own worker, started here).
    app = await startTestApp({ worker: false, now: () => Date.now() + offset, config: { outboundAllow: LOOPBACK } });
    sender = startDeliveryWorker(app.ctx);
    receiver = await startReceiver();
  });
  after(async () => {
    await Promise.all([worker?.stop(5000), sender.stop(5000)]);
    await app.close();
    await receiver.close();
  });

  test('processing_backlog opens, then resolves once processing resumes; each announced exactly once', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'backlog' })).body.id as string;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    await call('PUT', '/connections/stripe', { webhookSecrets: [SECRET] });
    assert.equal((await call('POST', '/endpoints', { url: receiver.url, eventTypes: ['incident.*'] })).status, 201);
    const send = async () => {
      const payload = stripeEvent('customer.created', { email: 'a@example.com' });
      const at = Math.floor(app.ctx.now() / 1000);
      assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET, at))).status, 200);
    };

    await send();
    await send();
    // Within the first minute nothing is wrong yet.
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 });
    // A minute (and a second) later, with more events arriving meanwhile.
    offset = 61_000;
    await send();
    assert.deepEqual(await sampleLag(app.ctx), { opened: 1, resolved: 0 });
    offset = 90_000;
    await send();
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 }, 'a standing backlog folds into the open incident');

    const open = (await call('GET', '/incidents?kind=processing_backlog')).body.data;
    assert.equal(open.length, 1);
    assert.equal(open[0].status, 'open');
    assert.equal(open[0].dedupKey, `processing_backlog:stripe:${ws}`);
    assert.equal(open[0].subject, ws);
    assert.equal(open[0].occurrences, 2);
    assert.equal(open[0].details.pending, 4);
    assert.ok(open[0].details.oldestWaitingSeconds >= 90, JSON.stringify(open[0].details));
    assert.equal(open[0].evidence.eventIds.length, 1);
    const health = (await call('GET', '/health')).body;
    assert.deepEqual(health.incidents.open, { processing_backlog: 1 });
    assert.equal(health.incidents.lastScan, null);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    assert.match(metrics, /^sluice_incidents_open\{kind="processing_backlog"\} 1$/m);
    assert.match(metrics, /^sluice_incidents_open\{kind="webhook_lag"\} 0$/m);
    assert.match(metrics, /^# TYPE sluice_scan_recovered_events_total counter$/m);
    assert.match(metrics, /^sluice_webhook_delivery_lag_seconds_count\{provider="stripe"\} 4$/m);
    assert.match(metrics, /^sluice_event_processing_lag_seconds\{provider="stripe"\} /m);

    // Processing resumes.
    worker = startEventWorker(app.ctx);
    await waitFor(async () => (await call('GET', '/health')).body.providers.stripe.lag.pending === 0, 'backlog processed');
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 1 });
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 });
    const resolved = (await call('GET', `/incidents/${open[0].id}`)).body;
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.resolvedBy, 'lag_sample');

    await waitFor(async () => announced(receiver).length >= 2, 'incident.opened and incident.resolved delivered');
    await settle();
    assert.deepEqual(announced(receiver), [
      { type: 'incident.opened', id: open[0].id, status: 'open' },
      { type: 'incident.resolved', id: open[0].id, status: 'resolved' },
    ]);
  });
});

describe('webhook_lag', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  test('opens above the threshold, resolves only after two samples below 80 % of it', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'lag' })).body.id as string;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    await call('PUT', '/connections/stripe', { webhookSecrets: [SECRET] });
    const threshold = (seconds: number) => saveParityPolicy(app.db, ws, { ...DEFAULT_POLICY, lagThresholdSeconds: seconds });
    const nowS = Math.floor(Date.now() / 1000);
    // Twenty events Stripe made ten minutes before they arrived (its queue was behind).
    for (let i = 0; i < 20; i++) {
      const payload = stripeEvent('customer.created', {}, { created: nowS - 600 });
      assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    }
    // A recovered event (found by a scan, days old) is no delivery lag: left out of the p95.
    const recovered = stripeEvent('customer.created', {}, { created: nowS - 5 * 86400 });
    assert.equal((await postStripe(app.url, ws, recovered, signStripe(recovered, SECRET))).status, 200);
    await app.db.query(`UPDATE events SET recovered = true WHERE workspace_id = $1 AND provider_event_id = $2`, [
      ws,
      JSON.parse(recovered).id,
    ]);

    const lag = () => app.api('GET', `/api/v1/workspaces/${ws}/incidents?kind=webhook_lag&status=open,acknowledged,resolved`);
    assert.equal((await sampleLag(app.ctx)).opened, 1, 'default threshold 300 s < p95 600 s');
    let [incident] = (await lag()).body.data;
    assert.equal(incident.dedupKey, `webhook_lag:stripe:${ws}`);
    assert.ok(incident.details.p95Seconds >= 600 && incident.details.p95Seconds < 700, JSON.stringify(incident.details));
    assert.equal(incident.details.samples, 20);
    assert.equal(incident.details.thresholdSeconds, 300);
    assert.ok((await call('GET', '/health')).body.providers.stripe.lag.deliveryP95Seconds >= 600);
    assert.match(
      await (await fetch(`${app.url}/metrics`)).text(),
      /^sluice_webhook_delivery_lag_seconds_bucket\{le="300",provider="stripe"\} 0$/m,
    );

    // Below the threshold but above 80 % of it: still open, and no count towards resolving.
    await threshold(700);
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 });
    // Well below: one sample is not enough …
    await threshold(1000);
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 });
    [incident] = (await lag()).body.data;
    assert.equal(incident.status, 'open');
    assert.equal(incident.details.belowInARow, 1);
    // … a sample in between starts the count again …
    await threshold(700);
    await sampleLag(app.ctx);
    await threshold(1000);
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 });
    assert.equal((await lag()).body.data[0].status, 'open');
    // … and the second in a row resolves it.
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 1 });
    [incident] = (await lag()).body.data;
    assert.equal(incident.status, 'resolved');
    assert.equal(incident.resolvedBy, 'lag_sample');
    assert.equal(incident.occurrences, 1, 'samples below the threshold do not count as occurrences');

    // The lag comes back: a new incident, linked to the resolved one.
    await threshold(300);
    assert.equal((await sampleLag(app.ctx)).opened, 1);
    const both = (await lag()).body.data;
    assert.equal(both.length, 2);
    assert.equal(both[0].status, 'open');
    assert.equal(both[0].previousId, incident.id);

    // Ignored: recurrences fold in silently; hysteresis leaves it alone.
    assert.equal((await call('POST', `/incidents/${both[0].id}/ignore`)).status, 200);
    assert.deepEqual(await sampleLag(app.ctx), { opened: 0, resolved: 0 });
    await threshold(1000);
    await sampleLag(app.ctx);
    await sampleLag(app.ctx);
    const ignored = (await call('GET', `/incidents/${both[0].id}`)).body;
    assert.equal(ignored.status, 'ignored');
    assert.equal(ignored.occurrences, 2);
  });

  test('with no Stripe event in the window the lag counts as gone', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'quiet' })).body.id as string;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const payload = stripeEvent('customer.created', {}, { created: Math.floor(Date.now() / 1000) - 900 });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    assert.equal((await sampleLag(app.ctx)).opened, 1);
    // Sixteen minutes on, the late event has left the window and nothing came since.
    const real = app.ctx.now;
    app.ctx.now = () => real() + 16 * 60_000;
    try {
      await sampleLag(app.ctx);
      const [i] = (await app.api('GET', `/api/v1/workspaces/${ws}/incidents?kind=webhook_lag`)).body.data;
      assert.equal(i.details.p95Seconds, null);
      assert.equal(i.details.belowInARow, 1);
      await sampleLag(app.ctx);
      assert.deepEqual((await app.api('GET', `/api/v1/workspaces/${ws}/incidents?kind=webhook_lag`)).body.data, []);
    } finally {
      app.ctx.now = real;
    }
  });
});

describe('the incident inbox', () => {
  let app: TestApp;
  let receiver: Receiver;
  let ws: string;
  const call = (method: string, path: string, body?: unknown, token?: string) =>
    app.api(method, `/api/v1/workspaces/${ws}${path}`, body, token);
  const fact = (subject: string, extra: Partial<IncidentFact> = {}): IncidentFact => ({
    workspaceId: ws,
    kind: 'access_missing',
    provider: 'parity',
    subject,
    qualifier: 'course',
    title: `${subject} pays for course but has no access`,
    details: { expected: 'access', actual: 'none', rule: 'paid' },
    ...extra,
  });
  const raise = (f: IncidentFact) => app.db.transaction((tx) => raiseIncident(app.ctx, tx, f));

  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK } });
    receiver = await startReceiver();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'inbox' })).body.id;
    await call('POST', '/endpoints', { url: receiver.url, eventTypes: ['incident.*'] });
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  test('acknowledge, resolve, ignore and reopen by hand, with who did it; illegal moves are 409', async () => {
    const first = (await raise(fact('cus_1'))).incident;
    const memberKey = (await call('POST', '/api-keys', { role: 'member' })).body;
    const member = memberKey.key as string;
    const viewer = (await call('POST', '/api-keys', { role: 'viewer' })).body.key;

    assert.equal((await call('GET', `/incidents/${first.id}`, undefined, viewer)).status, 200);
    const refused = await call('POST', `/incidents/${first.id}/acknowledge`, undefined, viewer);
    assert.equal(refused.status, 403);
    assert.equal((await call('GET', `/incidents/${first.id}`)).body.status, 'open', 'a refused change changes nothing');

    const acked = await call('POST', `/incidents/${first.id}/acknowledge`, undefined, member);
    assert.equal(acked.status, 200);
    assert.equal(acked.body.status, 'acknowledged');
    assert.equal(acked.body.acknowledgedBy, memberKey.id, 'the API key that did it, never the key itself');
    const again = await call('POST', `/incidents/${first.id}/acknowledge`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'INCIDENT_STATUS_CONFLICT');
    assert.match(again.body.error.message, /acknowledged already/);

    const resolved = await call('POST', `/incidents/${first.id}/resolve`);
    assert.equal(resolved.body.status, 'resolved');
    assert.equal(resolved.body.resolvedBy, 'admin');
    assert.equal((await call('POST', `/incidents/${first.id}/resolve`)).status, 409);
    const ignoreResolved = await call('POST', `/incidents/${first.id}/ignore`);
    assert.equal(ignoreResolved.status, 409);
    assert.match(ignoreResolved.body.error.message, /reopen it first/);
    assert.equal((await call('POST', `/incidents/${first.id}/acknowledge`)).status, 409);

    // The problem recurs after the resolve: a new incident, linked to the old one.
    const second = await raise(fact('cus_1'));
    assert.equal(second.opened, true);
    assert.equal(second.incident.previous_id, first.id);
    const blocked = await call('POST', `/incidents/${first.id}/reopen`);
    assert.equal(blocked.status, 409);
    assert.equal(blocked.body.error.code, 'INCIDENT_KEY_LIVE');
    assert.match(blocked.body.error.message, new RegExp(second.incident.id));

    // Ignored: recurrences fold in, a clean check does not resolve it, nothing is announced.
    const ignored = await call('POST', `/incidents/${second.incident.id}/ignore`, undefined, member);
    assert.equal(ignored.body.status, 'ignored');
    assert.ok(ignored.body.ignoredBy);
    const folded = await raise(fact('cus_1'));
    assert.equal(folded.opened, false);
    assert.equal(folded.incident.id, second.incident.id);
    assert.equal(folded.incident.status, 'ignored');
    assert.equal(folded.incident.occurrences, 2);
    await app.db.transaction((tx) =>
      settleSubject(app.ctx, tx, { workspaceId: ws, subject: 'cus_1', kinds: ['access_missing'], found: [], by: 'check' }),
    );
    assert.equal((await call('GET', `/incidents/${second.incident.id}`)).body.status, 'ignored');
    assert.deepEqual(
      (await call('GET', '/incidents')).body.data.map((i: any) => i.id).filter((id: string) => id === second.incident.id),
      [],
      'the default list leaves ignored incidents out',
    );
    assert.equal((await call('GET', '/incidents?status=ignored')).body.data[0].id, second.incident.id);

    // Reopen the ignored one; then, once it is resolved, the first can be reopened too.
    const reopened = await call('POST', `/incidents/${second.incident.id}/reopen`);
    assert.equal(reopened.body.status, 'open');
    assert.equal(reopened.body.ignoredBy, null);
    assert.equal((await call('POST', `/incidents/${second.incident.id}/reopen`)).status, 409);
    await call('POST', `/incidents/${second.incident.id}/resolve`);
    const firstAgain = await call('POST', `/incidents/${first.id}/reopen`);
    assert.equal(firstAgain.status, 200);
    assert.equal(firstAgain.body.status, 'open');
    assert.equal(firstAgain.body.resolvedAt, null);
    assert.equal((await call('POST', `/incidents/${first.id}/resolve`)).body.status, 'resolved');

    // Who did what is in the audit log.
    const { rows } = await app.db.query<{ action: string; actor: string; target: string }>(
      `SELECT action, actor, target FROM audit_log WHERE workspace_id = $1 AND action LIKE 'incident.%' ORDER BY id`,
      [ws],
    );
    assert.deepEqual(
      rows.map((r) => `${r.action} ${r.target}`),
      [
        `incident.acknowledge ${first.id}`,
        `incident.resolve ${first.id}`,
        `incident.ignore ${second.incident.id}`,
        `incident.reopen ${second.incident.id}`,
        `incident.resolve ${second.incident.id}`,
        `incident.reopen ${first.id}`,
        `incident.resolve ${first.id}`,
      ],
    );
    assert.equal(rows[0]!.actor, acked.body.acknowledgedBy);

    // Announced once per incident and fact, however often it was resolved or reopened.
    await waitFor(async () => announced(receiver).length >= 4, 'incident messages delivered');
    await settle();
    const types = announced(receiver).map((m) => `${m.type} ${m.id}`);
    assert.deepEqual(
      types.sort(),
      [
        `incident.opened ${first.id}`,
        `incident.opened ${second.incident.id}`,
        `incident.resolved ${first.id}`,
        `incident.resolved ${second.incident.id}`,
      ].sort(),
    );
  });

  test('filters, keyset paging and bad input', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await raise(fact(`cus_page_${i}`, { kind: i % 2 ? 'access_unpaid' : 'stuck_event' }))).incident.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: any } = await call(
        'GET',
        `/incidents?kind=access_unpaid,stuck_event&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(res.status, 200);
      assert.ok(res.body.data.length <= 2);
      seen.push(...res.body.data.map((i: any) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, each once');
    assert.deepEqual(
      (await call('GET', '/incidents?subject=cus_page_1')).body.data.map((i: any) => i.id),
      [ids[1]],
    );
    assert.equal((await call('GET', '/incidents?kind=stuck_event&status=open')).body.data.length, 3);
    assert.equal((await call('GET', '/incidents?kind=stuck_event&status=resolved')).body.data.length, 0);

    for (const [q, field] of [
      ['status=open,bogus', 'status'],
      ['status=', undefined],
      ['kind=nope', 'kind'],
      ['limit=0', 'limit'],
      ['cursor=xyz', 'cursor'],
    ] as const) {
      const res = await call('GET', `/incidents?${q}`);
      if (field === undefined) {
        assert.equal(res.status, 200, q);
        continue;
      }
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED', q);
      assert.match(JSON.stringify(res.body.error), new RegExp(field), q);
    }
    const bad = await call('GET', '/incidents?status=open,bogus');
    assert.match(bad.body.error.message, /"bogus" is not one of open, acknowledged, resolved, ignored/);
    assert.equal((await call('GET', '/incidents/inc_0000000000aaaaaaaaaaaaaa')).status, 404);
    assert.equal((await call('GET', '/incidents/inc_0000000000aaaaaaaaaaaaaa')).body.error.code, 'INCIDENT_NOT_FOUND');
    assert.equal((await call('POST', '/incidents/inc_0000000000aaaaaaaaaaaaaa/resolve')).status, 404);
    assert.equal((await call('POST', '/incidents/not-an-id/resolve')).status, 400);
    assert.equal((await app.api('GET', '/api/v1/workspaces/ws_0000000000aaaaaaaaaaaaaa/incidents')).status, 404);

    // Health: open incidents by kind, the last scan.
    await app.db.query(
      `INSERT INTO check_runs (id, workspace_id, kind, trigger, scope, status, finished_at) VALUES ($1, $2, 'scan', 'scan', $3, 'succeeded', now())`,
      ['run_0000000000aaaaaaaaaaaaaa', ws, JSON.stringify({ provider: 'stripe' })],
    );
    const health = (await call('GET', '/health')).body.incidents;
    assert.equal(health.open.stuck_event, 3);
    assert.equal(health.open.access_unpaid, 2);
    assert.equal(health.lastScan.runId, 'run_0000000000aaaaaaaaaaaaaa');
    assert.equal(health.lastScan.provider, 'stripe');
    assert.equal(health.lastScan.status, 'succeeded');
    assert.ok(health.lastScan.finishedAt);
  });
});

test('sluice incidents list, ack, resolve, ignore and sluice doctor', { timeout: 420_000 }, async () => {
  const TOKEN = 'incidents_cli_admin_token_0123456789';
  const store = await createTestStore();
  const failing = await startReceiver(() => ({ status: 500 }));
  const env = {
    ...store.env,
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8',
    SLUICE_RETRY_SCHEDULE: '0,0.5,0.5,0.5,0.5,0.5',
    SLUICE_ENDPOINT_DISABLE_AFTER_SECONDS: '1',
  };
  const server = await startSluiceProcess(env);
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as any;
  };
  try {
    const ws = (await api('POST', '/workspaces', { name: 'cli' })).id as string;
    // An endpoint that keeps failing is disabled with an endpoint_disabled incident.
    const ep = await api('POST', `/workspaces/${ws}/endpoints`, { url: failing.url, eventTypes: ['course.*'] });
    await api('POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: {} });
    await waitFor(async () => (await api('GET', `/workspaces/${ws}/endpoints/${ep.id}`)).state === 'disabled', 'endpoint disabled', 30_000);

    const listed = await runSluice(['incidents', 'list', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const [incident] = JSON.parse(listed.stdout);
    assert.equal(incident.kind, 'endpoint_disabled');
    assert.equal(incident.subject, ep.id);
    const text = await runSluice(['incidents', 'list', '--workspace', ws], env);
    assert.match(text.stdout, new RegExp(`${incident.id}  OPEN +endpoint_disabled  ${ep.id}`));

    const doctor = await runSluice(['doctor', '--workspace', ws], env);
    assert.match(doctor.stdout, /^Open incidents: endpoint_disabled 1/m);
    assert.match(doctor.stdout, /^ {2}stripe: 0 waiting to be processed; no webhook in the last 15 minutes$/m);
    assert.match(doctor.stdout, /^Last scan: none yet$/m);

    const acked = await runSluice(['incidents', 'ack', incident.id, '--workspace', ws], env);
    assert.equal(acked.code, 0, acked.stderr);
    assert.equal(acked.stdout.trim(), `${incident.id} acknowledged (endpoint_disabled, ${ep.id})`);
    const twice = await runSluice(['incidents', 'ack', incident.id], env);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /acknowledged already/);
    assert.equal((await runSluice(['incidents', 'resolve', incident.id, '--json'], env)).code, 0);
    const ignore = await runSluice(['incidents', 'ignore', incident.id], env);
    assert.equal(ignore.code, 1);
    assert.match(ignore.stderr, /reopen it first/);
    assert.match((await runSluice(['incidents', 'list'], env)).stdout, /no open or acknowledged incidents/);
    const resolved = JSON.parse(
      (await runSluice(['incidents', 'list', '--status', 'resolved', '--kind', 'endpoint_disabled', '--json'], env)).stdout,
    );
    // Through the server's API (embedded) the CLI acts as the admin; directly on PostgreSQL as itself.
    assert.match(resolved[0].resolvedBy, /^(admin|cli)$/);

    assert.equal((await runSluice(['incidents', 'ack'], env)).code, 2);
    assert.equal((await runSluice(['incidents', 'ack', incident.id, '--status', 'open'], env)).code, 2);
    const badKind = await runSluice(['incidents', 'list', '--kind', 'nope'], env);
    assert.equal(badKind.code, 1);
    assert.match(badKind.stderr, /"nope" is not one of/);
    await api('POST', '/workspaces', { name: 'second' });
    const ambiguous = await runSluice(['incidents', 'list'], env);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /--workspace is required/);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    await failing.close();
    await store.drop();
  }
});
