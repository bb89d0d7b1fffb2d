// `sluice endpoint` and `sluice listen` as a user runs them, beside a running server (through its API on the
// embedded database, directly on PostgreSQL).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { startReceiver } from '../helpers/receiver.js';
import { runSluice, spawnSluice, startSluiceProcess } from '../helpers/sluice-process.js';

const TOKEN = 'cli_outbound_admin_token_0123456789';

test('sluice endpoint add/list/disable and sluice listen', { timeout: 120_000 }, async () => {
  const store = await createTestStore();
  const receiver = await startReceiver();
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8' };
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
    const added = await runSluice(['endpoint', 'add', '--workspace', ws, '--url', receiver.url, '--events', 'course.*', '--json'], env);
    assert.equal(added.code, 0, added.stderr);
    const ep = JSON.parse(added.stdout);
    assert.deepEqual(ep.eventTypes, ['course.*']);

    const listen = spawnSluice(['listen', '--workspace', ws, '--json', '--interval', '200'], env);
    await waitFor(async () => listen.stderr().includes('Listening for messages'), 'listen ready', 20_000);
    await api('POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: { user: 'u_9' } });
    const line = await waitFor(
      async () =>
        listen
          .stdout()
          .split('\n')
          .find((l) => l.includes('course.enrolled')),
      'listen prints the message',
    );
    assert.deepEqual(JSON.parse(line).data, { user: 'u_9' });
    listen.proc.kill('SIGINT');
    assert.equal(await listen.exited, 0);

    await waitFor(async () => receiver.requests.length === 1, 'delivered');
    assert.ok(new Webhook(ep.secret).verify(receiver.requests[0]!.body, receiver.requests[0]!.headers as Record<string, string>));

    const list = await runSluice(['endpoint', 'list', '--workspace', ws], env);
    assert.match(list.stdout, new RegExp(`${ep.id}  enabled `));
    const paused = await runSluice(['endpoint', 'pause', '--workspace', ws, '--endpoint', ep.id], env);
    assert.match(paused.stdout, /paused \(deliveries wait; resume sends them\)/);
    assert.match((await runSluice(['endpoint', 'list', '--workspace', ws], env)).stdout, /PAUSED/);
    const disabled = await runSluice(['endpoint', 'disable', '--workspace', ws, '--endpoint', ep.id], env);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match((await runSluice(['endpoint', 'list', '--workspace', ws], env)).stdout, /DISABLED/);
    const bad = await runSluice(['endpoint', 'add', '--workspace', ws, '--url', 'ftp://nope'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /http or https/);
    assert.equal((await runSluice(['endpoint', 'add', '--workspace', ws], env)).code, 2);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    await receiver.close();
    await store.drop();
  }
});
