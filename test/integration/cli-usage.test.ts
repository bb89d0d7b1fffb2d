// CLI usage and error output: usage errors exit 2 with a clean one-line hint in the CLI's own terms, --json
// failures are JSON on stdout, and migrate beside a running server says there is nothing to do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestStore, usingPostgres } from '../helpers/db.js';
import { runSluice, startSluiceProcess } from '../helpers/sluice-process.js';

test('usage errors: delete without --confirm, unknown options, a negative interval', async () => {
  const store = await createTestStore();
  try {
    const unconfirmed = await runSluice(['workspace', 'delete', 'ws_abc'], store.env);
    assert.equal(unconfirmed.code, 2, unconfirmed.stderr);
    assert.match(unconfirmed.stderr, /--confirm ws_abc/);
    assert.doesNotMatch(unconfirmed.stderr, /DELETE \/api|\?confirm=/, 'the hint is the CLI form, not the HTTP one');

    const wrong = await runSluice(['workspace', 'delete', 'ws_abc', '--confirm', 'ws_other'], store.env);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /--confirm ws_abc/);

    const unknown = await runSluice(['workspace', 'list', '--id'], store.env);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'sluice workspace: unknown option --id; see sluice workspace --help\n');

    for (const interval of [['--interval', '-1'], ['--interval=-1'], ['--interval', 'soon'], ['--interval', '99999999999']]) {
      const listen = await runSluice(['listen', '--workspace', 'ws_abc', ...interval], store.env);
      assert.equal(listen.code, 2, interval.join(' '));
      assert.match(listen.stderr, /--interval must be a whole number of milliseconds from 100 to 86400000/, interval.join(' '));
      assert.doesNotMatch(listen.stderr, /ambiguous/);
    }
  } finally {
    await store.drop();
  }
});

test('with --json a failure is a JSON error on stdout and exit 1', async () => {
  const store = await createTestStore();
  try {
    const doctor = await runSluice(['doctor', '--workspace', 'ws_missing', '--json'], store.env);
    assert.equal(doctor.code, 1, doctor.stderr);
    const body = JSON.parse(doctor.stdout);
    assert.equal(body.error.code, 'WORKSPACE_NOT_FOUND');
    assert.match(body.error.message, /ws_missing/);
  } finally {
    await store.drop();
  }
});

test(
  'migrate while the embedded server runs: refused, saying it migrated at start and to stop it first',
  { skip: usingPostgres, timeout: 90_000 },
  async () => {
    const store = await createTestStore();
    try {
      const server = await startSluiceProcess({ ...store.env, SLUICE_ADMIN_TOKEN: 'cli_usage_admin_token_0123456789' });
      try {
        const migrate = await runSluice(['migrate'], store.env);
        assert.equal(migrate.code, 1, "still a refusal: a new version's migrations were not applied");
        assert.match(migrate.stderr, /in use by another sluice process/);
        assert.match(migrate.stderr, /applied its migrations when it started: nothing to do/);
        assert.match(migrate.stderr, /stop the server first/);
        assert.match(migrate.stderr, /\[DATA_DIR_LOCKED\]/);
        assert.doesNotMatch(migrate.stderr, /while it serves HTTP/);
      } finally {
        server.proc.kill('SIGTERM');
        await server.exited;
      }
    } finally {
      await store.drop();
    }
  },
);
