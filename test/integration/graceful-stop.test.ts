// SIGTERM in the middle of traffic on keep-alive connections (a deploy): every request a client got onto the
// wire is answered, none is cut off, and every 200 is stored. A client may find the port closed (nothing was
// sent, it tries another instance) or get a 503 (answered: the provider retries); what it must never see is its
// request reset after it was sent, which leaves it guessing whether the event was taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, fetch } from 'undici';
import { createTestStore } from '../helpers/db.js';
import { listEventStatuses, processApi, startSluiceProcess } from '../helpers/sluice-process.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_graceful_stop_secret';
const TOKEN = 'graceful_stop_admin_token_0123456789';
const api = processApi(TOKEN);

test('SIGTERM while 24 keep-alive clients post: no request is reset, every 200 is kept', { timeout: 120_000 }, async () => {
  const store = await createTestStore();
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN };
  try {
    const first = await startSluiceProcess(env);
    const ws = (await api(first.url, 'POST', '/workspaces', { name: 'Graceful' })).body.id;
    assert.equal((await api(first.url, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);

    // Keep-alive connections, and no retry by the client: a reset must show.
    const agent = new Agent({ connections: 24, pipelining: 1, keepAliveTimeout: 60_000 });
    const acked = new Set<string>();
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    let refused = false;
    const client = async () => {
      // Bounded: 600 events per client at most; stops once the port is closed.
      for (let i = 0; i < 600 && !refused; i++) {
        const payload = stripeEvent('customer.subscription.updated', { status: 'active' });
        try {
          const res = await fetch(`${first.url}/webhooks/stripe/${ws}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, SECRET) },
            body: payload,
            dispatcher: agent,
          });
          await res.arrayBuffer();
          count(String(res.status));
          if (res.status === 200) acked.add(JSON.parse(payload).id);
        } catch (err) {
          const code = ((err as { cause?: { code?: string } }).cause?.code ?? 'unknown') as string;
          count(code);
          if (code === 'ECONNREFUSED') refused = true;
        }
      }
    };
    const clients = Array.from({ length: 24 }, client);
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 10));
    first.proc.kill('SIGTERM');
    await Promise.all(clients);
    const exit = await first.exited;
    await agent.close();
    assert.equal(exit.code, 0, `SIGTERM exits cleanly:\n${first.output().slice(-2000)}`);

    const summary = JSON.stringify(Object.fromEntries(outcomes));
    const cutOff = [...outcomes].filter(([k]) => !['200', '503', 'ECONNREFUSED'].includes(k));
    assert.deepEqual(cutOff, [], `requests cut off after they were sent: ${summary}`);
    assert.ok((outcomes.get('200') ?? 0) >= 300, summary);

    const second = await startSluiceProcess(env);
    try {
      const stored = await listEventStatuses(api, second.url, ws);
      const missing = [...acked].filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged events were lost`);
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    await store.drop();
  }
});
