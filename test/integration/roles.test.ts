// Scale-out on PostgreSQL: an `api` instance stores, a separate `worker` instance processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestStore, usingPostgres } from '../helpers/db.js';
import { startSluiceProcess } from '../helpers/sluice-process.js';
import { signStripe, stripeEvent } from '../helpers/stripe.js';

const TOKEN = 'roles_test_admin_token_0123456789';
const SECRET = 'whsec_roles_test_secret';

test(
  '--role api stores without processing; --role worker processes what it stored',
  { skip: usingPostgres ? false : 'needs DATABASE_URL: one sluice start runs per embedded data dir, so roles cannot be split there' },
  async () => {
    const store = await createTestStore();
    const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, SLUICE_SECRET_KEY: 'roles-test-master-key-0123456789abcdef' };
    const api = await startSluiceProcess(env, ['--role', 'api']);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${api.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return (await res.json()) as any;
    };
    let worker: Awaited<ReturnType<typeof startSluiceProcess>> | undefined;
    try {
      const ws = (await call('POST', '/workspaces', { name: 'Roles' })).id;
      await call('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
      const payload = stripeEvent('invoice.paid');
      const res = await fetch(`${api.url}/webhooks/stripe/${ws}`, {
        method: 'POST',
        headers: { 'stripe-signature': signStripe(payload, SECRET), 'content-type': 'application/json' },
        body: payload,
      });
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await call('GET', `/workspaces/${ws}/events`)).data[0].status, 'received', 'no worker in an api-only instance');

      worker = await startSluiceProcess(env, ['--role', 'worker']);
      const deadline = Date.now() + 15_000;
      let status = 'received';
      while (Date.now() < deadline && status === 'received') {
        status = (await call('GET', `/workspaces/${ws}/events`)).data[0].status;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 'processed');
    } finally {
      api.proc.kill('SIGTERM');
      worker?.proc.kill('SIGTERM');
      assert.equal((await api.exited).code, 0);
      if (worker) assert.equal((await worker.exited).code, 0);
      await store.drop();
    }
  },
);
