// kill -9 of a real `sluice start` while 32 concurrent senders keep several group commits in flight: every
// event answered 200 is in the database after the restart. The metrics prove the answers really came from
// shared commits (several requests per flush), so this is the group-commit variant of crash-recovery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestStore } from '../helpers/db.js';
import { listEventStatuses, processApi, startSluiceProcess } from '../helpers/sluice-process.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_crash_group_commit';
const TOKEN = 'crash_group_commit_admin_token_0123';
const api = processApi(TOKEN);

/** Requests answered by committed flushes, and the number of such flushes, from the Prometheus text. */
async function flushFigures(url: string): Promise<{ requests: number; flushes: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{outcome="committed"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { requests: value('sluice_ingest_flush_requests_sum'), flushes: value('sluice_ingest_flush_requests_count') };
}

test(
  'kill -9 under 32 concurrent senders with group commit: every acknowledged event is there after restart',
  { timeout: 120_000 },
  async () => {
    const store = await createTestStore();
    const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN };
    try {
      const first = await startSluiceProcess(env, ['--role', 'api']);
      const ws = (await api(first.url, 'POST', '/workspaces', { name: 'Crash GC' })).body.id;
      assert.equal((await api(first.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);

      const acked = new Set<string>();
      let sent = 0;
      let killed = false;
      const client = async () => {
        for (let i = 0; i < 500 && !killed; i++) {
          const payload = stripeEvent('customer.subscription.updated', { status: 'active' });
          sent += 1;
          try {
            const res = await fetch(`${first.url}/webhooks/stripe/${ws}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, SECRET) },
              body: payload,
            });
            const body = (await res.json()) as { received?: boolean; duplicate?: boolean };
            if (res.status === 200 && body.received && !body.duplicate) acked.add(JSON.parse(payload).id);
          } catch {
            // the connection died with the process: not acknowledged, so Stripe would retry it
          }
        }
      };
      const clients = Array.from({ length: 32 }, client);
      while (acked.size < 300 && sent < 16_000) await new Promise((r) => setTimeout(r, 10));
      const figures = await flushFigures(first.url);
      first.proc.kill('SIGKILL');
      killed = true;
      await Promise.all(clients);
      await first.exited;
      assert.ok(acked.size >= 300, `only ${acked.size} events were acknowledged before the kill`);
      assert.ok(
        figures.flushes > 0 && figures.requests > figures.flushes,
        `requests shared commits before the kill (${figures.requests} requests in ${figures.flushes} flushes)`,
      );

      const second = await startSluiceProcess(env, ['--role', 'api']);
      try {
        const found = await listEventStatuses(api, second.url, ws);
        const missing = [...acked].filter((id) => !found.has(id));
        assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged events were lost`);
      } finally {
        second.proc.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await store.drop();
    }
  },
);
