// kill -9 in the middle of traffic: every event that was answered 200 is there after a restart and gets
// processed. Then SIGTERM stops the process cleanly.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createTestStore, usingPostgres } from '../helpers/db.js';
import { listEventStatuses, processApi, startSluiceProcess } from '../helpers/sluice-process.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_crash_test_secret';
const TOKEN = 'crash_test_admin_token_0123456789';

const api = processApi(TOKEN);

test('kill -9 while 20 clients post: every acknowledged event survives and is processed', { timeout: 120_000 }, async () => {
  const store = await createTestStore();
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN };
  try {
    const first = await startSluiceProcess(env);
    const ws = (await api(first.url, 'POST', '/workspaces', { name: 'Crash' })).body.id;
    assert.equal((await api(first.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);

    const acked = new Set<string>();
    let sent = 0;
    let killed = false;
    const client = async () => {
      // Bounded: stops at the kill, or after 400 events per client at most.
      for (let i = 0; i < 400 && !killed; i++) {
        const payload = stripeEvent('customer.subscription.updated', { status: 'active' });
        sent += 1;
        try {
          const res = await fetch(`${first.url}/webhooks/stripe/${ws}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, SECRET) },
            body: payload,
          });
          if (res.status === 200) acked.add(JSON.parse(payload).id);
          await res.arrayBuffer();
        } catch {
          // the connection died with the process: not acknowledged, so Stripe would retry it
        }
      }
    };
    const clients = Array.from({ length: 20 }, client);
    // Kill once a good number of events were acknowledged, in the middle of the traffic.
    while (acked.size < 150 && sent < 8000) await new Promise((r) => setTimeout(r, 10));
    first.proc.kill('SIGKILL');
    killed = true;
    await Promise.all(clients);
    await first.exited;
    assert.ok(acked.size >= 150, `only ${acked.size} events were acknowledged before the kill`);

    const second = await startSluiceProcess(env);
    try {
      const deadline = Date.now() + 60_000;
      let statuses = new Map<string, string>();
      while (Date.now() < deadline) {
        statuses = await listEventStatuses(api, second.url, ws);
        if ([...acked].every((id) => statuses.get(id) === 'processed')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const missing = [...acked].filter((id) => !statuses.has(id));
      const unprocessed = [...acked].filter((id) => statuses.has(id) && statuses.get(id) !== 'processed');
      assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged events were lost`);
      assert.deepEqual(unprocessed, [], 'every acknowledged event is processed after the restart');
    } finally {
      second.proc.kill('SIGTERM');
      const exit = await second.exited;
      assert.equal(exit.code, 0, `SIGTERM exits cleanly:\n${second.output().slice(-2000)}`);
      assert.match(second.output(), /"msg":"stopped"/);
      if (!usingPostgres) assert.equal(existsSync(path.join(store.dataDir, 'sluice.lock')), false, 'the data-dir lock is released');
    }
  } finally {
    await store.drop();
  }
});
