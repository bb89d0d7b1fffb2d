// The admin token generated on first start: printed once on stderr, apart from the JSON-lines log on stdout,
// and it works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { spawnSluice } from '../helpers/sluice-process.js';

test('a generated admin token is printed on stderr, not in the JSON log on stdout, and works', { timeout: 90_000 }, async () => {
  const store = await createTestStore();
  const env: Record<string, string> = { ...store.env, LOG_LEVEL: 'info' };
  const server = spawnSluice(['start', '--port', '0'], env);
  try {
    const started = await waitFor(
      async () =>
        server
          .stdout()
          .split('\n')
          .find((l) => l.includes('"msg":"sluice started"')),
      'sluice started',
      60_000,
    );
    const url = (JSON.parse(started) as { url: string }).url;
    const printed = /generated an admin token[\s\S]*?\n {4}(\S+)\n/.exec(server.stderr());
    assert.ok(printed, `the token is on stderr:\n${server.stderr()}`);
    const token = printed[1]!;
    const lines = server
      .stdout()
      .split('\n')
      .filter((l) => l !== '');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `stdout is JSON lines only: ${line}`);
    assert.equal(server.stdout().includes(token), false, 'the token is not in the log');
    assert.ok(
      lines.some((l) => l.includes('printed once on stderr')),
      'the log says where the token went',
    );
    const res = await fetch(`${url}/api/v1/workspaces`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    await store.drop();
  }
});
