// kill -9 between two attempts of a delivery: after a restart the delivery carries on with the same
// webhook-id and succeeds once; no message is lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { startReceiver } from '../helpers/receiver.js';
import { processApi, startSluiceProcess } from '../helpers/sluice-process.js';

const TOKEN = 'outbound_crash_admin_token_0123456789';

const api = processApi(TOKEN);

test('kill -9 between attempts loses nothing: the delivery resumes after a restart', { timeout: 120_000 }, async () => {
  const store = await createTestStore();
  let up = false;
  const successes = new Map<string, number>();
  const receiver = await startReceiver((req) => {
    if (!up) return { status: 500 };
    const id = String(req.headers['webhook-id']);
    successes.set(id, (successes.get(id) ?? 0) + 1);
    return { status: 200 };
  });
  // The second attempt is due 3 s after the first: time enough to kill the process in between.
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8', SLUICE_RETRY_SCHEDULE: '0,3,1,1' };
  try {
    const first = await startSluiceProcess(env);
    const ws = (await api(first.url, 'POST', '/workspaces', { name: 'crash' })).body.id;
    const ep = (await api(first.url, 'POST', `/workspaces/${ws}/endpoints`, { url: receiver.url })).body;
    const messages: string[] = [];
    for (let i = 0; i < 5; i++) {
      messages.push((await api(first.url, 'POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: { i } })).body.message.id);
    }
    await waitFor(async () => new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size === 5, 'first attempts');
    // Between attempts: every first attempt recorded (a 500, the next due in 3 s), none claimed any more. A kill
    // while an attempt is still being recorded is another case: its claim waits out the lease (45 s here).
    await waitFor(async () => {
      const list = (await api(first.url, 'GET', `/workspaces/${ws}/endpoints/${ep.id}/deliveries`)).body.data as any[];
      return list.length === 5 && list.every((d) => d.status === 'pending' && d.lastStatusCode === 500);
    }, 'first attempts recorded');
    first.proc.kill('SIGKILL');
    await first.exited;

    up = true;
    const second = await startSluiceProcess(env);
    try {
      await waitFor(
        async () =>
          (await api(second.url, 'GET', `/workspaces/${ws}/endpoints/${ep.id}/deliveries?status=succeeded`)).body.data.length === 5,
        'every delivery succeeded after the restart',
        30_000,
      );
      assert.deepEqual(
        messages.map((id) => successes.get(id)),
        Array(5).fill(1),
        'each message answered 200 exactly once',
      );
      for (const id of messages) {
        const forMessage = receiver.requests.filter((r) => r.headers['webhook-id'] === id);
        assert.ok(forMessage.length >= 2, `${id} was attempted before and after the kill`);
        for (const r of forMessage) assert.ok(new Webhook(ep.secret).verify(r.body, r.headers as Record<string, string>));
      }
      const deliveries = (await api(second.url, 'GET', `/workspaces/${ws}/endpoints/${ep.id}/deliveries`)).body.data;
      assert.deepEqual(
        deliveries.map((d: any) => d.status),
        Array(5).fill('succeeded'),
      );
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    await receiver.close();
    await store.drop();
  }
});

// kill -9 while the receiver holds a request open: the attempt was counted when it was claimed and never recorded.
// After the restart (embedded: at once; PostgreSQL: once the claim's lease has run out) the delivery's history
// notes that attempt as interrupted before the one that succeeds, so it matches its count and says the receiver
// may have had the webhook.
test('kill -9 mid-request: the interrupted attempt is noted in the delivery history', { timeout: 150_000 }, async () => {
  const store = await createTestStore();
  let hang = true;
  const receiver = await startReceiver(() => (hang ? 'hang' : { status: 200 }));
  // The shortest timeout keeps the claim's lease (timeout + 30 s) short where it has to run out (PostgreSQL).
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8', SLUICE_OUTBOUND_TIMEOUT_MS: '100' };
  try {
    const first = await startSluiceProcess({ ...env, SLUICE_OUTBOUND_TIMEOUT_MS: '2000' });
    const ws = (await api(first.url, 'POST', `/workspaces`, { name: 'interrupted' })).body.id;
    const ep = (await api(first.url, 'POST', `/workspaces/${ws}/endpoints`, { url: receiver.url })).body;
    const message = (await api(first.url, 'POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: 1 } })).body.message;
    await waitFor(async () => receiver.requests.length === 1, 'the request reached the receiver');
    first.proc.kill('SIGKILL');
    await first.exited;

    hang = false;
    const second = await startSluiceProcess(env);
    try {
      const list = async () => (await api(second.url, 'GET', `/workspaces/${ws}/endpoints/${ep.id}/deliveries`)).body.data as any[];
      await waitFor(async () => (await list())[0]?.status === 'succeeded', 'the delivery succeeded after the restart', 120_000);
      const [delivery] = await list();
      const detail = (await api(second.url, 'GET', `/workspaces/${ws}/deliveries/${delivery.id}`)).body;
      assert.equal(detail.messageId, message.id);
      assert.equal(detail.attempts, 2, 'the interrupted attempt and the one that succeeded');
      assert.equal(detail.attemptLog.length, 2, 'one history row per counted attempt');
      const [interrupted, succeeded] = detail.attemptLog;
      assert.equal(interrupted.outcome, 'retry');
      assert.equal(interrupted.statusCode, null);
      assert.match(interrupted.error, /^interrupted: the sender stopped/);
      assert.equal(succeeded.outcome, 'succeeded');
      assert.ok(Date.parse(interrupted.startedAt) <= Date.parse(succeeded.startedAt), 'noted before the next attempt');
      const metrics = await (await fetch(`${second.url}/metrics`)).text();
      assert.match(metrics, /sluice_delivery_attempts_total\{outcome="interrupted"\} 1\b/);
      assert.equal(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size, 1, 'both requests carried one webhook-id');
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    await receiver.close();
    await store.drop();
  }
});
