import net from 'node:net';
import { loadConfig, type Role } from '../../config.js';
import { closeOpening, createLogger, openStore } from '../../db/open-store.js';
import type { startSluice } from '../../main.js';
import { parseOptions, UsageError, type Command } from '../command.js';

const ROLES: Role[] = ['all', 'api', 'worker'];

export const startCommand: Command = {
  summary: 'run the HTTP server and the workers',
  help: [
    'Usage: sluice start [--role all|api|worker] [--port N] [--host ADDR]',
    '',
    '  --role   all (default): HTTP and workers; api: HTTP only; worker: background work only',
    '  --port   port to listen on (default $PORT or 8080; 0 picks a free one)',
    '  --host   address to listen on (default $HOST or 127.0.0.1)',
    '',
    'Uses the embedded database under $SLUICE_DATA_DIR (./data) unless DATABASE_URL is set.',
    'SIGTERM or Ctrl-C stops accepting, finishes in-flight work, then exits.',
  ].join('\n'),
  async run(args) {
    const { values } = parseOptions(args, { role: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } });
    const role = (values.role ?? 'all') as Role;
    if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const overrides: { port?: number; host?: string } = {};
    if (values.port !== undefined) {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be an integer from 0 to 65535');
      overrides.port = port;
    }
    if (values.host !== undefined) overrides.host = values.host;
    const config = loadConfig(process.env, overrides);
    // A port already taken fails the start here, before the store is opened: on a fresh data dir that opening makes
    // the embedded cluster (initdb, seconds) only for the listen to fail after it, leaving a data dir half made.
    if (role !== 'worker') await checkPortFree(config.host, config.port);
    // The handlers go in before the start: a SIGTERM that arrives while Sluice is still starting (an
    // orchestrator that changed its mind, a test that is done) must stop it cleanly once started, not kill it.
    let running: Awaited<ReturnType<typeof startSluice>> | undefined;
    let stopRequested = false;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const stop = () =>
      void running!.stop().then(finish, (err: unknown) => {
        running!.ctx.log.error({ err }, 'shutdown failed');
        process.exitCode = 1;
        finish();
      });
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        if (running) running.ctx.log.warn({ signal }, 'second signal: exiting now');
        else process.stderr.write(`sluice start: second ${signal}: exiting now\n`);
        process.exit(130);
      }
      stopRequested = true;
      if (running) stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const parentWatch = process.env.npm_lifecycle_event
      ? watchForOrphaning(() => {
          if (stopRequested) return;
          running?.ctx.log.warn('the npm process that started Sluice has ended without passing its signal on: stopping');
          onSignal('SIGTERM');
        })
      : undefined;
    try {
      // The store is opened before the app is loaded, not after: on a first start initdb and the server's start
      // (about 1.5 s on 2 small cores) run in their own processes while this one loads the app's modules (about
      // 1.2 s), instead of one after the other.
      const log = createLogger(config);
      const opening = openStore(config, log);
      // Its failure (the data dir locked by another start, say) is taken up below by startSluice, once the app is
      // loaded; until then it must not count as unhandled, which would end the process with a stack trace.
      opening.catch(() => {});
      let main: { startSluice: typeof startSluice };
      try {
        main = await import('../../main.js');
      } catch (err) {
        await closeOpening(opening);
        throw err;
      }
      running = await main.startSluice(config, role, log, opening);
    } catch (err) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (parentWatch) clearInterval(parentWatch);
      throw err;
    }
    if (stopRequested) stop();
    await finished;
    if (parentWatch) clearInterval(parentWatch);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  },
};

/**
 * `npm start` runs Sluice under `sh -c`, and a SIGTERM to npm (`docker stop`, a service manager stopping the main
 * pid) reaches that shell, which dies without passing it on: Sluice ran on, orphaned, holding its port, its data dir
 * and its PostgreSQL. Started by npm, Sluice takes the loss of its parent as the SIGTERM it never got. Two looks in a
 * row, half a second apart: a Ctrl-C reaches Sluice itself as the shell dies, and must count once, not as a second
 * signal that exits at once.
 */
function watchForOrphaning(onOrphaned: () => void): NodeJS.Timeout {
  const parent = process.ppid;
  let seen = 0;
  const timer = setInterval(() => {
    seen = process.ppid === parent ? 0 : seen + 1;
    if (seen < 2) return;
    clearInterval(timer);
    onOrphaned();
  }, 500);
  timer.unref();
  return timer;
}

/**
 * Fails with the listen's own error (EADDRINUSE, EACCES, ENOTFOUND: the CLI words each) when host:port cannot be
 * listened on now; frees it at once otherwise. Port 0 always can. What takes the port between this look and the real
 * listen still fails the start there, as before.
 */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
