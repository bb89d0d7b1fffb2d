// SIGTERM while a receiver holds a delivery's request open past SLUICE_SHUTDOWN_TIMEOUT_MS: the request reached
// the receiver, so the attempt is noted in the delivery's history as interrupted (as after a kill -9) and stays
// counted; before, the claim was given back as if nothing had been sent, and the history showed one attempt fewer
// than the receiver had requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { startReceiver } from '../helpers/receiver.js';
import { processApi, startSluiceProcess } from '../helpers/sluice-process.js';

const TOKEN = 'outbound_stop_mid_request_admin_token_01';

const api = processApi(TOKEN);

test('SIGTERM mid-request: the attempt the receiver got is noted as interrupted and stays counted', { timeout: 150_000 }, async () => {
  const store = await createTestStore();
  let hang = true;
  const receiver = await startReceiver(() => (hang ? 'hang' : { status: 200 }));
  const env = {
    ...store.env,
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8',
    SLUICE_OUTBOUND_TIMEOUT_MS: '30000',
    SLUICE_SHUTDOWN_TIMEOUT_MS: '500',
  };
  try {
    const first = await startSluiceProcess(env);
    const ws = (await api(first.url, 'POST', `/workspaces`, { name: 'stop-mid-request' })).body.id;
    const ep = (await api(first.url, 'POST', `/workspaces/${ws}/endpoints`, { url: receiver.url })).body;
    const message = (await api(first.url, 'POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: 1 } })).body.message;
    await waitFor(async () => receiver.requests.length === 1, 'the request reached the receiver');
    first.proc.kill('SIGTERM');
    const exit = await first.exited;
    assert.equal(exit.code, 0, first.output());
    // The request the stop cut off ends after the store is closed: nothing to record (the note is there), no error.
    const errors = first
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{') && (JSON.parse(l) as { level: number }).level >= 50);
    assert.deepEqual(errors, [], 'no error logged by a stop');

    hang = false;
    const second = await startSluiceProcess(env);
    try {
      const list = async () => (await api(second.url, 'GET', `/workspaces/${ws}/endpoints/${ep.id}/deliveries`)).body.data as any[];
      await waitFor(async () => (await list())[0]?.status === 'succeeded', 'the delivery succeeded after the restart', 60_000);
      const [delivery] = await list();
      const detail = (await api(second.url, 'GET', `/workspaces/${ws}/deliveries/${delivery.id}`)).body;
      assert.equal(detail.messageId, message.id);
      assert.equal(receiver.requests.length, 2, 'the receiver had two requests');
      assert.equal(detail.attempts, 2, 'both requests counted');
      assert.deepEqual(
        detail.attemptLog.map((a: any) => a.outcome),
        ['retry', 'succeeded'],
        JSON.stringify(detail.attemptLog),
      );
      assert.match(detail.attemptLog[0].error, /^interrupted: /);
      assert.equal(detail.attemptLog[0].statusCode, null);
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
