// The sluice command as a user runs it: help, migrate, workspace create/list directly and through a
// running server that holds the embedded data dir.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestStore, usingPostgres, type TestStore } from '../helpers/db.js';
import { runSluice, startSluiceProcess } from '../helpers/sluice-process.js';

describe('sluice CLI', () => {
  let store: TestStore;
  before(async () => {
    store = await createTestStore();
  });
  after(() => store.drop());

  test('--help lists the commands; unknown commands and bad options exit 2', async () => {
    const help = await runSluice(['--help'], store.env);
    assert.equal(help.code, 0);
    for (const c of ['start', 'migrate', 'workspace']) assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
    const startHelp = await runSluice(['start', '--help'], store.env);
    assert.match(startHelp.stdout, /--role/);
    assert.equal((await runSluice(['frobnicate'], store.env)).code, 2);
    const bad = await runSluice(['start', '--role', 'chef'], store.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--role must be one of/);
  });

  test('migrate applies once, then reports up to date', async () => {
    const first = await runSluice(['migrate'], store.env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied 0001_core/);
    const second = await runSluice(['migrate'], store.env);
    assert.equal(second.stdout.trim(), 'database is up to date');
  });

  test('workspace create and list, directly and through a running server', async () => {
    const direct = await runSluice(['workspace', 'create', '--name', 'Direct', '--json'], store.env);
    assert.equal(direct.code, 0, direct.stderr);
    const ws = JSON.parse(direct.stdout);
    assert.match(ws.id, /^ws_/);
    assert.match(ws.webhookUrls.stripe, new RegExp(`/webhooks/stripe/${ws.id}$`));

    const rebuild = await runSluice(['rebuild', '--workspace', ws.id], store.env);
    assert.equal(rebuild.code, 0, rebuild.stderr);
    assert.match(rebuild.stdout, /Dry run[\s\S]*no changes/);
    assert.equal((await runSluice(['rebuild', '--workspace', 'ws_nope'], store.env)).code, 1);

    const missingName = await runSluice(['workspace', 'create'], store.env);
    assert.equal(missingName.code, 2);
    assert.match(missingName.stderr, /--name is required/);

    const server = await startSluiceProcess({ ...store.env, SLUICE_ADMIN_TOKEN: 'cli_test_admin_token_0123456789' });
    try {
      // Embedded: the server holds the dir, so this goes through its API and shows its real URL.
      const viaServer = await runSluice(['workspace', 'create', '--name', 'Via server'], store.env);
      assert.equal(viaServer.code, 0, viaServer.stderr);
      assert.match(viaServer.stdout, /Created workspace ws_\S+ {2}Via server/);
      if (!usingPostgres) assert.ok(viaServer.stdout.includes(`${server.url}/webhooks/stripe/ws_`));
      const list = await runSluice(['workspace', 'list', '--json'], store.env);
      const names = JSON.parse(list.stdout).map((w: { name: string }) => w.name);
      assert.deepEqual(names, ['Via server', 'Direct']);
      if (!usingPostgres) {
        // Two processes must never open one embedded dir: migrate refuses while the server runs.
        const refused = await runSluice(['migrate'], store.env);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /in use by another sluice process/);
      }
    } finally {
      server.proc.kill('SIGTERM');
      assert.equal((await server.exited).code, 0);
    }
  });
});
