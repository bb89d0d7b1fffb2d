// GET /metrics after real traffic: prom-client's text format with the counters the README names, the
// ingest, processing and delivery latency histograms, the queue gauges and the default process metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCidrs } from '../../src/lib/cidr.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_metrics_test_secret';

/** Sum of every sample of a series whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      sum += Number(m[4]);
      seen = true;
    }
  }
  assert.ok(seen, `${name}${JSON.stringify(labels)} is in /metrics`);
  return sum;
}

describe('Prometheus metrics', () => {
  let app: TestApp;
  let receiver: Receiver;
  let text: string;

  before(async () => {
    receiver = await startReceiver();
    app = await startTestApp({ config: { outboundAllow: parseCidrs('127.0.0.0/8').cidrs } });
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Metrics' })).body.id;
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/hook` });
    const payload = stripeEvent('customer.created', { id: 'cus_metrics', object: 'customer', email: 'm@example.com' });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    assert.equal((await postStripe(app.url, ws, payload, 't=1,v1=00')).status, 400);
    // Two updates of one customer in the same second: a tie, settled by rule here (no API key), and counted.
    const created = Math.floor(Date.now() / 1000);
    for (const email of ['a@example.com', 'b@example.com']) {
      const tie = stripeEvent('customer.updated', { id: 'cus_tie', object: 'customer', email }, { created });
      assert.equal((await postStripe(app.url, ws, tie, signStripe(tie, SECRET))).status, 200);
    }
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status = 'received'");
      return rows[0]!.n === 0;
    }, 'events processed');
    await waitFor(async () => receiver.requests.length >= 2, 'deliveries to the receiver');
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries WHERE status = 'pending'");
      return rows[0]!.n === 0;
    }, 'deliveries settled');
    const res = await fetch(`${app.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    text = await res.text();
  });
  after(async () => {
    await app.close();
    await receiver.close();
  });

  test('the counters the README names count the traffic', () => {
    assert.ok(sample(text, 'sluice_http_requests_total', { route: '/webhooks/stripe/:workspaceId', status: '200' }) >= 1);
    assert.ok(sample(text, 'sluice_inbound_rejections_total', { provider: 'stripe' }) >= 1);
    assert.equal(sample(text, 'sluice_events_stored_total', { provider: 'stripe' }), 3);
    assert.ok(sample(text, 'sluice_event_outcomes_total', { provider: 'stripe', outcome: 'processed' }) >= 1);
    assert.ok(sample(text, 'sluice_delivery_attempts_total', { outcome: 'succeeded' }) >= 2);
    assert.ok(sample(text, 'sluice_tie_refetches_total', { outcome: 'no_api_key' }) >= 1);
  });

  test('latency histograms for ingest, processing and delivery have observations', () => {
    assert.equal(sample(text, 'sluice_ingest_duration_seconds_count', { provider: 'stripe', status: '200' }), 3);
    assert.ok(sample(text, 'sluice_ingest_duration_seconds_sum', { provider: 'stripe' }) > 0);
    assert.ok(sample(text, 'sluice_ingest_duration_seconds_bucket', { provider: 'stripe', le: '+Inf' }) >= 2);
    assert.ok(sample(text, 'sluice_processing_duration_seconds_count', { provider: 'stripe' }) >= 1);
    assert.ok(sample(text, 'sluice_processing_duration_seconds_sum', { provider: 'stripe' }) > 0);
    assert.ok(sample(text, 'sluice_delivery_duration_seconds_count', { outcome: 'succeeded' }) >= 2);
    assert.ok(sample(text, 'sluice_delivery_duration_seconds_sum') > 0);
    assert.ok(sample(text, 'sluice_http_request_duration_seconds_count', { route: '/api/v1/workspaces' }) >= 1);
  });

  test('queue gauges come from the database, delivery gauges included', () => {
    // Waiting and failed events only: a gauge of every processed event would count the whole history per scrape.
    assert.equal(sample(text, 'sluice_event_outcomes_total', { provider: 'stripe', outcome: 'processed' }), 3);
    assert.doesNotMatch(text, /sluice_events\{[^}]*status="processed"/);
    assert.ok(sample(text, 'sluice_deliveries', { status: 'succeeded' }) >= 2);
    assert.equal(sample(text, 'sluice_deliveries', { status: 'pending' }), 0);
    assert.equal(sample(text, 'sluice_deliveries_oldest_pending_seconds'), 0);
  });

  test('default process metrics are on', () => {
    assert.ok(sample(text, 'process_resident_memory_bytes') > 0);
    assert.ok(sample(text, 'nodejs_heap_size_used_bytes') > 0);
    assert.ok(sample(text, 'process_cpu_seconds_total') > 0);
  });

  test('two apps in one process keep separate registries', async () => {
    const other = await startTestApp({ worker: false });
    try {
      const res = await fetch(`${other.url}/metrics`);
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.doesNotMatch(body, /sluice_events_stored_total\{provider="stripe"\}/);
    } finally {
      await other.close();
    }
  });
});

describe('event outcomes settled at ingest', () => {
  test('events stored failed (unstorable) or ignored (mode mismatch) are counted with their outcome', async () => {
    const app = await startTestApp({ worker: false });
    try {
      const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Settled at ingest' })).body.id;
      await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET], mode: 'test' });
      const nul = stripeEvent('customer.created', { name: 'a\\u0000b' }, { livemode: false }).replace('a\\\\u0000b', 'a\\u0000b');
      const deep = stripeEvent('customer.created', { name: 'NEST' }, { livemode: false }).replace(
        '"NEST"',
        `${'['.repeat(6000)}${']'.repeat(6000)}`,
      );
      const live = stripeEvent('customer.created', { email: 'm@example.com' }, { livemode: true });
      for (const body of [nul, deep, live]) assert.equal((await postStripe(app.url, ws, body, signStripe(body, SECRET))).status, 200);
      // No worker runs: whatever is counted was counted at ingest.
      const text = await (await fetch(`${app.url}/metrics`)).text();
      assert.equal(sample(text, 'sluice_event_outcomes_total', { provider: 'stripe', outcome: 'failed' }), 2);
      assert.equal(sample(text, 'sluice_event_outcomes_total', { provider: 'stripe', outcome: 'ignored' }), 1);
    } finally {
      await app.close();
    }
  });
});

describe('workflow metrics', () => {
  test('runs by final status, failed step attempts by kind, and the trigger → first step lag', async () => {
    const failing = await startReceiver(() => ({ status: 400 }));
    const app = await startTestApp({ config: { outboundAllow: parseCidrs('127.0.0.0/8').cidrs } });
    try {
      const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Workflow metrics' })).body.id;
      const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
      const wf = (
        await call('POST', '/workflows', {
          name: 'Metered',
          trigger: { type: 'meter.read', if: 'event.n > 0' },
          steps: [
            { id: 'emit', kind: 'event.emit', type: 'meter.logged', data: {} },
            { id: 'call', kind: 'http', url: `${failing.url}/x`, if: 'event.n > 5' },
          ],
        })
      ).body.id;
      for (const n of [1, 0, 9]) assert.equal((await call('POST', '/events', { type: 'meter.read', data: { n } })).status, 201);
      await waitFor(async () => {
        const runs = (await call('GET', `/workflows/${wf}/runs`)).body.data as { status: string }[];
        return runs.length === 3 && runs.every((r) => ['succeeded', 'failed', 'filtered'].includes(r.status));
      }, 'runs settled');
      let text = await (await fetch(`${app.url}/metrics`)).text();
      assert.equal(sample(text, 'sluice_workflow_runs_total', { status: 'succeeded' }), 1);
      assert.equal(sample(text, 'sluice_workflow_runs_total', { status: 'filtered' }), 1);
      assert.equal(sample(text, 'sluice_workflow_runs_total', { status: 'failed' }), 1);
      assert.equal(sample(text, 'sluice_workflow_step_failures_total', { kind: 'http' }), 1);
      // The two runs that passed their trigger started a first step; the filtered one did not.
      assert.equal(sample(text, 'sluice_workflow_trigger_lag_seconds_count'), 2);
      assert.ok(sample(text, 'sluice_workflow_trigger_lag_seconds_sum') > 0);
      assert.equal(sample(text, 'sluice_workflow_trigger_lag_seconds_bucket', { le: '+Inf' }), 2);

      // A retried run that fails again counts as a second failure of its step and a second failed run.
      const failed = ((await call('GET', `/workflows/${wf}/runs?status=failed`)).body.data as { id: string }[])[0]!;
      assert.equal((await call('POST', `/runs/${failed.id}/retry`)).status, 200);
      await waitFor(async () => (await call('GET', `/runs/${failed.id}`)).body.status === 'failed', 'failed again');
      text = await (await fetch(`${app.url}/metrics`)).text();
      assert.equal(sample(text, 'sluice_workflow_runs_total', { status: 'failed' }), 2);
      assert.equal(sample(text, 'sluice_workflow_step_failures_total', { kind: 'http' }), 2);
      assert.equal(sample(text, 'sluice_workflow_trigger_lag_seconds_count'), 2, 'a retry is not a trigger');
    } finally {
      await app.close();
      await failing.close();
    }
  });
});
