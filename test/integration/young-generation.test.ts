// `sluice start` runs with a young generation of 4 MB semi-spaces (bin/young-generation.js): Node 24 defaults to
// 32 MB, which took Sluice's peak RSS under load from 163 to 278 MB. The server started as users start
// it (`node bin/sluice.js start`, the compiled dist/) restarts itself in place with the flag where Node can.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { restartArgv, YOUNG_GENERATION_FLAG } from '../../bin/young-generation.js';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const canExec = typeof (process as { execve?: unknown }).execve === 'function';

test('restartArgv: only `start`, only without a size already chosen, only where Node can exec', () => {
  const base = {
    execPath: '/usr/bin/node',
    execArgv: [] as string[],
    argv: ['/usr/bin/node', '/app/bin/sluice.js', 'start', '--port', '0'],
  };
  assert.deepEqual(restartArgv({ ...base, nodeOptions: undefined, canExec: true }), [
    '/usr/bin/node',
    YOUNG_GENERATION_FLAG,
    '/app/bin/sluice.js',
    'start',
    '--port',
    '0',
  ]);
  // node's own flags are kept, after ours, in their order
  assert.deepEqual(restartArgv({ ...base, execArgv: ['--enable-source-maps'], nodeOptions: '', canExec: true })?.slice(1, 4), [
    YOUNG_GENERATION_FLAG,
    '--enable-source-maps',
    '/app/bin/sluice.js',
  ]);
  assert.equal(restartArgv({ ...base, nodeOptions: undefined, canExec: false }), undefined, 'Node 20 has no execve');
  assert.equal(
    restartArgv({ ...base, argv: ['/usr/bin/node', '/app/bin/sluice.js', 'migrate'], nodeOptions: undefined, canExec: true }),
    undefined,
  );
  assert.equal(restartArgv({ ...base, argv: ['/usr/bin/node', '/app/bin/sluice.js'], nodeOptions: undefined, canExec: true }), undefined);
  // an operator's own size wins, given to node or in NODE_OPTIONS, in either spelling
  assert.equal(restartArgv({ ...base, execArgv: ['--max-semi-space-size=32'], nodeOptions: undefined, canExec: true }), undefined);
  assert.equal(restartArgv({ ...base, execArgv: ['--max_semi_space_size=4'], nodeOptions: undefined, canExec: true }), undefined);
  assert.equal(restartArgv({ ...base, nodeOptions: '--trace-warnings --max-semi-space-size=16', canExec: true }), undefined);
  // a flag that merely starts the same way is not the size
  assert.ok(restartArgv({ ...base, nodeOptions: '--max-semi-space-sizes', canExec: true }));
});

/** The server's own command line, as the kernel has it (after any exec). */
function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

const skip = !existsSync(`${repo}dist/cli/main.js`)
  ? 'dist/ is not built (npm run build)'
  : !canExec
    ? `Node ${process.version} cannot replace a running process (process.execve came in Node 22.15); npm start passes the flag itself`
    : process.platform !== 'linux'
      ? 'reads /proc'
      : false;

test(
  '`node bin/sluice.js start` runs with the young-generation flag, in the same process; NODE_OPTIONS can choose another',
  { skip, timeout: 60_000 },
  async () => {
    const store = await createTestStore();
    const run = (env: Record<string, string>) => {
      const proc = spawn(process.execPath, ['bin/sluice.js', 'start', '--port', '0'], {
        cwd: repo,
        env: {
          ...process.env,
          ...store.env,
          DATABASE_URL: store.databaseUrl,
          SLUICE_ADMIN_TOKEN: 'young_generation_token_0123456789',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (out += d));
      const exited = new Promise((resolve) => proc.on('exit', resolve));
      return { proc, out: () => out, exited };
    };
    try {
      const plain = run({ NODE_OPTIONS: '' });
      try {
        await waitFor(async () => plain.out().includes('"msg":"sluice started"'), 'the server to start', 30_000);
        const argv = commandLine(plain.proc.pid!);
        assert.ok(argv.includes(YOUNG_GENERATION_FLAG), `restarted with the flag: ${argv.join(' ')}`);
        assert.deepEqual(argv.slice(-4), [`${repo}bin/sluice.js`, 'start', '--port', '0']);
      } finally {
        plain.proc.kill('SIGTERM');
        await plain.exited;
      }

      const chosen = run({ NODE_OPTIONS: '--max-semi-space-size=16' });
      try {
        await waitFor(async () => chosen.out().includes('"msg":"sluice started"'), 'the server to start', 30_000);
        const argv = commandLine(chosen.proc.pid!);
        assert.ok(!argv.includes(YOUNG_GENERATION_FLAG), `not restarted: ${argv.join(' ')}`);
      } finally {
        chosen.proc.kill('SIGTERM');
        await chosen.exited;
      }
    } finally {
      await store.drop();
    }
  },
);
