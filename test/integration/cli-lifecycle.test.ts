// The sluice command against the hardening issue: one-line errors with a code, usage hints, URLs from the
// server's config while it is down, a private data dir, and `listen` that outlives server restarts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { readPostmasterPid, stopPostmaster } from '../../src/db/embedded/server.js';
import { waitFor } from '../helpers/app.js';
import { createTestStore, usingPostgres } from '../helpers/db.js';
import { runSluice, SLUICE_ENTRY, spawnSluice, startSluiceProcess } from '../helpers/sluice-process.js';

const TOKEN = 'cli_lifecycle_admin_token_0123456789';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Stops the embedded server a failed start would have left running in dataDir (none, once fixed). */
async function stopOrphanCluster(dataDir: string): Promise<void> {
  const running = readPostmasterPid(path.join(dataDir, 'postgres'));
  if (running) await stopPostmaster(running.pid, 20_000);
}

function walk(p: string): string[] {
  const st = statSync(p);
  return st.isDirectory() ? [p, ...readdirSync(p).flatMap((n) => walk(path.join(p, n)))] : [p];
}

test('ordinary errors are one line with a code; --debug adds the stack; typos get a usage hint and exit 2', async () => {
  const store = await createTestStore();
  try {
    const missing = await runSluice(['rebuild', '--workspace', 'ws_nope'], store.env);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    assert.match(missing.stderr, /^sluice rebuild: no workspace "ws_nope" \[WORKSPACE_NOT_FOUND\]$/m);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);

    const debug = await runSluice(['rebuild', '--workspace', 'ws_nope', '--debug'], store.env);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /\[WORKSPACE_NOT_FOUND\]\n[\s\S]*\n\s+at /);

    const badEnv = await runSluice(['migrate'], { ...store.env, PORT: 'eighty' });
    assert.equal(badEnv.code, 1);
    assert.match(badEnv.stderr, /PORT must be an integer/);
    assert.match(badEnv.stderr, /\[CONFIG_INVALID\]/);
    assert.doesNotMatch(badEnv.stderr, /\n\s+at /);

    // A server that is not there: the cause and the variable to check, never the password.
    const down = await runSluice(['migrate'], { ...store.env, DATABASE_URL: 'postgres://sluice:hunter2secret@127.0.0.1:1/sluice' });
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /^sluice migrate: cannot reach the database: connect ECONNREFUSED 127\.0\.0\.1:1; check the server DATABASE_URL names/m,
    );
    assert.doesNotMatch(down.stderr, /hunter2secret/);

    // A data dir that cannot be one: the variable and the reason, not a bare errno.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-dd-')), 'a-file');
    writeFileSync(file, 'not a directory');
    const notDir = await runSluice(['workspace', 'list'], { ...store.env, DATABASE_URL: '', SLUICE_DATA_DIR: path.join(file, 'sub') });
    assert.equal(notDir.code, 1);
    assert.match(
      notDir.stderr,
      /^sluice workspace: the data dir .*a-file\/sub \(SLUICE_DATA_DIR\) cannot be used: .* \[DATA_DIR_UNUSABLE\]$/m,
    );

    const typo = await runSluice(['wrkspace', 'list'], store.env);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown command "wrkspace"; did you mean "workspace"\?/);
    assert.match(typo.stderr, /sluice --help/);
    const flag = await runSluice(['workspace', 'list', '--frobnicate'], store.env);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--frobnicate/);
    assert.match(flag.stderr, /sluice workspace --help/);
  } finally {
    await store.drop();
  }
});

test('while the server is down, commands print the webhook URLs the server will use', { timeout: 90_000 }, async () => {
  const store = await createTestStore();
  const port = await freePort();
  // localhost, not 127.0.0.1: the server must show the configured host, not the address it resolved to.
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, PORT: String(port), HOST: 'localhost' };
  try {
    const down = await runSluice(['workspace', 'create', '--name', 'Offline', '--json'], env);
    assert.equal(down.code, 0, down.stderr);
    const offline = JSON.parse(down.stdout);
    assert.equal(offline.webhookUrls.stripe, `http://localhost:${port}/webhooks/stripe/${offline.id}`);

    const withPublic = await runSluice(['workspace', 'list', '--json'], { ...env, SLUICE_PUBLIC_URL: 'https://hooks.example.com/' });
    assert.equal(JSON.parse(withPublic.stdout)[0].webhookUrls.piano, `https://hooks.example.com/webhooks/piano/${offline.id}`);

    // The server started from the same environment shows the same base.
    const server = await startSluiceProcess(env, ['--port', String(port)]);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/workspaces/${offline.id}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { webhookUrls: { stripe: string } }).webhookUrls.stripe, offline.webhookUrls.stripe);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  } finally {
    await store.drop();
  }
});

/** Readable or writable beyond its owner. As root, the data dir itself keeps search-only bits (0711): the
 *  embedded server runs as its own user and must pass through it to its cluster. */
function loose(f: string, dataDir: string): boolean {
  const allowed = process.getuid?.() === 0 && f === dataDir ? 0o011 : 0;
  return (statSync(f).mode & 0o077 & ~allowed) !== 0;
}

test('the data dir and every file in it are private to the owner after start', { timeout: 90_000 }, async () => {
  const store = await createTestStore();
  try {
    // A dir left world-readable (an older version, a careless copy) is fixed, with a warning.
    chmodSync(store.dataDir, 0o755);
    mkdirSync(path.join(store.dataDir, 'old-backup'), { mode: 0o755 });
    writeFileSync(path.join(store.dataDir, 'old-backup', 'notes.txt'), 'x', { mode: 0o644 });
    chmodSync(path.join(store.dataDir, 'old-backup', 'notes.txt'), 0o644);
    const server = await startSluiceProcess({ ...store.env, SLUICE_ADMIN_TOKEN: TOKEN });
    try {
      const res = await fetch(`${server.url}/api/v1/workspaces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'private' }),
      });
      assert.equal(res.status, 201);
      assert.match(server.output(), /the data dir was readable by other users/);
      const files = walk(store.dataDir);
      if (!usingPostgres)
        assert.ok(
          files.some((f) => f.endsWith(path.join('postgres', 'PG_VERSION'))),
          'the embedded database lives in the data dir',
        );
      assert.ok(files.some((f) => f.endsWith('secret.key')));
      const open = files.filter((f) => loose(f, store.dataDir)).map((f) => `${(statSync(f).mode & 0o777).toString(8)} ${f}`);
      assert.deepEqual(open, []);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    // Files the database created while running (WAL, new relations) are private too.
    const open = walk(store.dataDir).filter((f) => loose(f, store.dataDir));
    assert.deepEqual(open, []);
  } finally {
    await store.drop();
  }
});

test('sluice listen waits for the server, then keeps printing across a server restart', { timeout: 150_000 }, async () => {
  const store = await createTestStore();
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN };
  const api = async (url: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as any;
  };
  // The workspace exists before anything runs: created directly while no server holds the dir.
  const created = await runSluice(['workspace', 'create', '--name', 'listen', '--json'], env);
  assert.equal(created.code, 0, created.stderr);
  const ws = JSON.parse(created.stdout).id as string;

  const listen = spawnSluice(['listen', '--workspace', ws, '--json', '--interval', '200'], env);
  const printed = (type: string) =>
    waitFor(
      async () =>
        listen
          .stdout()
          .split('\n')
          .find((l) => l.includes(type)),
      `listen prints ${type}`,
      30_000,
    );
  try {
    // Listen prints what is created after it started: let it start first. Embedded, it waits for the server;
    // on PostgreSQL it reads the database at once.
    if (!usingPostgres) await waitFor(async () => listen.stderr().includes('waiting for the server at'), 'listen waits', 20_000);
    else await waitFor(async () => listen.stderr().includes('Listening for messages'), 'listen listens', 20_000);
    // Embedded: the server can take the data dir although listen is already running.
    let server = await startSluiceProcess(env);
    try {
      await api(server.url, 'POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: 1 } });
      assert.deepEqual(JSON.parse(await printed('course.enrolled')).data, { n: 1 });

      server.proc.kill('SIGTERM');
      assert.equal((await server.exited).code, 0);
      if (!usingPostgres) await waitFor(async () => listen.stderr().includes('lost the connection'), 'listen notices', 20_000);
      server = await startSluiceProcess(env);
      await api(server.url, 'POST', `/workspaces/${ws}/events`, { type: 'course.completed', data: { n: 2 } });
      assert.deepEqual(JSON.parse(await printed('course.completed')).data, { n: 2 });
      assert.equal(listen.proc.exitCode, null, `listen is still running:\n${listen.stderr()}`);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    listen.proc.kill('SIGINT');
    assert.equal(await listen.exited, 0);
  } finally {
    if (listen.proc.exitCode === null) listen.proc.kill('SIGKILL');
    await store.drop();
  }
});

test('a SIGTERM while sluice is still starting stops it cleanly once started (exit 0), not abruptly', { timeout: 90_000 }, async () => {
  const store = await createTestStore();
  try {
    const child = spawnSluice(['start', '--port', '0'], { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN });
    // The first log line comes from inside the start (data dir, database), before it listens.
    await waitFor(async () => child.stdout().includes('"level"'), 'the first log line', 60_000);
    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0, child.stderr().slice(-2000));
    assert.match(child.stdout(), /"msg":"stopped"/);
  } finally {
    await store.drop();
  }
});

test(
  'started by `npm start`, sluice stops cleanly when npm ends: the shell between them does not pass SIGTERM on',
  { timeout: 90_000 },
  async () => {
    const store = await createTestStore();
    try {
      // As npm runs a script: `sh -c "<command>"`, with npm_lifecycle_event set. The shell is killed the way npm's
      // SIGTERM kills it; Sluice, its child, never gets a signal.
      const command = `'${process.execPath}' --import tsx '${SLUICE_ENTRY}' start --port 0`;
      const shell = spawn('sh', ['-c', command], {
        env: { ...process.env, ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info', npm_lifecycle_event: 'start' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      shell.stdout.on('data', (d) => (out += d));
      // The pipe ends when its last writer, Sluice, has exited.
      const ended = new Promise<void>((resolve) => shell.stdout.on('end', resolve));
      await waitFor(async () => out.includes('"msg":"sluice started"'), 'sluice started', 60_000);
      shell.kill('SIGTERM');
      await ended;
      assert.match(out, /without passing its signal on: stopping/);
      assert.match(out, /"msg":"stopped"/);
    } finally {
      await store.drop();
    }
  },
);

test(
  'a port already in use: the one line that says so, without warnings or errors from stopping work that never ran',
  { timeout: 90_000 },
  async () => {
    const store = await createTestStore();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      // As `npm start` runs it: npm keeps a bare --debug for itself, so the hint names the form that reaches Sluice.
      const run = await runSluice(['start', '--port', String(port)], {
        ...store.env,
        SLUICE_ADMIN_TOKEN: TOKEN,
        LOG_LEVEL: 'info',
        npm_lifecycle_event: 'start',
      });
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        new RegExp(`127\\.0\\.0\\.1:${port} is already in use; stop what listens there or set PORT \\[EADDRINUSE\\]`),
      );
      assert.match(run.stderr, /Run again with npm start -- --debug for the stack trace/);
      // The workers and scheduled jobs started before the listen are stopped as on a SIGTERM: given time to finish
      // what they hold (a moment), never cut off, and never left running against a closed database.
      const lines = run.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string });
      const noise = lines.filter((l) => l.level >= 50 || /did not finish in time|still in hand|still running at shutdown/.test(l.msg));
      assert.deepEqual(
        noise.map((l) => l.msg),
        [],
        run.stdout.slice(-3000),
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      await store.drop();
    }
  },
);

test(
  'a first start on a port already in use fails on the port before it makes the embedded database (no cluster left behind)',
  { timeout: 90_000 },
  async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'sluice-busy-port-'));
    const dataDir = path.join(parent, 'data');
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const run = await runSluice(['start', '--port', String(port)], {
        SLUICE_DATA_DIR: dataDir,
        DATABASE_URL: '',
        SLUICE_ADMIN_TOKEN: TOKEN,
        LOG_LEVEL: 'info',
      });
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`127\\.0\\.0\\.1:${port} is already in use; stop what listens there or set PORT \\[EADDRINUSE\\]`),
      );
      // Nothing of a data dir: no cluster (initdb never ran), no master key, no lock file.
      assert.equal(existsSync(dataDir), false, existsSync(dataDir) ? walk(dataDir).join('\n') : '');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      if (existsSync(path.join(dataDir, 'postgres'))) await stopOrphanCluster(dataDir);
      rmSync(parent, { recursive: true, force: true });
    }
  },
);

test(
  'listening on every address (HOST=0.0.0.0) without SLUICE_PUBLIC_URL: the start says the links it prints need the real address',
  { timeout: 90_000 },
  async () => {
    const store = await createTestStore();
    try {
      const server = await startSluiceProcess({ ...store.env, SLUICE_ADMIN_TOKEN: TOKEN, HOST: '0.0.0.0' });
      try {
        // What the console block on stderr says where the link is printed, and the log line for log readers. The log
        // goes to stdout through the logger's own buffer: it can come after the stderr block, so both are waited for.
        await waitFor(
          async () => server.output().includes('Sluice console:') && server.output().includes('which nobody elsewhere can reach'),
          'the console block and the warning',
          30_000,
        );
        assert.match(server.output(), /Sluice console: http:\/\/0\.0\.0\.0:\d+\//);
        assert.match(server.output(), /0\.0\.0\.0 is no address a browser or a provider elsewhere can reach/);
        assert.match(server.output(), /set SLUICE_PUBLIC_URL/);
        assert.match(server.output(), /"level":40[^\n]*"msg":"the webhook URLs and console links say http:\/\/0\.0\.0\.0/);
      } finally {
        server.proc.kill('SIGTERM');
        await server.exited;
      }
      const named = await startSluiceProcess({
        ...store.env,
        SLUICE_ADMIN_TOKEN: TOKEN,
        HOST: '0.0.0.0',
        SLUICE_PUBLIC_URL: 'https://hooks.example.com',
      });
      try {
        await waitFor(async () => named.output().includes('Sluice console:'), 'the console block', 30_000);
        assert.match(named.output(), /Sluice console: https:\/\/hooks\.example\.com\//);
        assert.doesNotMatch(named.output(), /SLUICE_PUBLIC_URL/);
      } finally {
        named.proc.kill('SIGTERM');
        await named.exited;
      }
    } finally {
      await store.drop();
    }
  },
);
