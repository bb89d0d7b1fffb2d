// The embedded PostgreSQL server shared by the in-process tests of one `npm test` run (each test then works in
// its own schema), started and stopped through Sluice's own supervisor.
//   node --import tsx scripts/test-cluster.ts start DIR   prints the connection URL on stdout
//   node --import tsx scripts/test-cluster.ts stop DIR
import { startEmbeddedServer } from '../src/db/embedded/supervisor.js';
import { readPostmasterPid, stopPostmaster } from '../src/db/embedded/server.js';
import path from 'node:path';

const [command, dir] = process.argv.slice(2);
if (!dir || (command !== 'start' && command !== 'stop')) {
  process.stderr.write('usage: test-cluster.ts start|stop DIR\n');
  process.exit(2);
}
if (command === 'start') {
  const server = await startEmbeddedServer({
    dataDir: dir,
    osUser: process.env.SLUICE_EMBEDDED_DB_USER ?? 'sluice',
    // Two test files at a time, each with a few pools of 10.
    serverSettings: { max_connections: '200', fsync: 'off', synchronous_commit: 'off' },
  });
  const c = server.connection;
  // `localhost` only fills the URL's host slot: the host parameter (the socket directory) overrides it.
  const url = new URL(`postgresql://${c.user}:${encodeURIComponent(c.password)}@localhost/${c.database}`);
  url.searchParams.set('host', c.host);
  url.searchParams.set('port', String(c.port));
  process.stdout.write(`${url.toString()}\n`);
  await server.detach(); // the suite's processes use it from here; `stop` ends it
} else {
  const running = readPostmasterPid(path.join(dir, 'postgres'));
  if (running && !(await stopPostmaster(running.pid, 20_000))) process.exitCode = 1;
}
