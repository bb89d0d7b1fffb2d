// Process entry: config → database → HTTP and/or workers → graceful shutdown.
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { publicBaseUrl, type Config, type Role } from './config.js';
import { createLogger, openStore, type Store } from './db/open-store.js';
import { buildApp } from './http/app.js';
import { drainConnections } from './http/graceful-close.js';
import { hashToken } from './lib/hash.js';
import { newToken } from './lib/ids.js';
import { loadOrCreateMasterKey } from './lib/secret-box.js';
import { startDeliveryWorker, type DeliveryWorker } from './jobs/delivery-worker.js';
import { startEventWorker, type EventWorker } from './jobs/event-worker.js';
import { startParityChecker, type ParityChecker } from './jobs/parity-checker.js';
import { startWorkflowWorker, type WorkflowWorker } from './jobs/workflow-worker.js';
import { releaseOrphanedWorkflowTriggers } from './services/workflows/process-triggers.js';
import { releaseOrphanedWorkflowSteps } from './services/workflows/run-step.js';
import { startRetentionJob, type RetentionJob } from './jobs/retention-job.js';
import { createScheduler, type Scheduler } from './jobs/scheduler.js';
import { allSchedules } from './jobs/schedules.js';
import type { Ctx } from './services/context.js';
import { ensureSetupLink } from './services/users/ensure-setup-link.js';
import { createContext } from './services/create-context.js';
import { ensureAdminToken } from './services/workspaces/ensure-admin-token.js';
import { checkMasterKey } from './services/connections/check-master-key.js';
import { releaseOrphanedDeliveries } from './services/outbound/claim-deliveries.js';
import { releaseOrphanedClaims } from './services/processing/claim-events.js';
import { stopScans } from './services/parity/start-scan.js';

/** How long a stop lets keep-alive clients send their next request before closing their connections
 *  (http/graceful-close.ts); SLUICE_SHUTDOWN_TIMEOUT_MS, if shorter. The in-flight work then gets the timeout. */
const DRAIN_MS = 1000;

export interface RunningSluice {
  /** http://host:port when the role serves HTTP. */
  url: string | undefined;
  ctx: Ctx;
  stop(): Promise<void>;
}

/** Says where the console is; while nobody can sign in, also a one-time link to create the first admin. The link
 *  goes to stderr like the generated admin token: it is a credential, and the JSON log is shipped elsewhere. */
async function offerConsole(ctx: Ctx, log: Logger): Promise<void> {
  const consoleUrl = `${ctx.publicUrl()}/`;
  let setupUrl: string | undefined;
  try {
    setupUrl = await ensureSetupLink(ctx);
  } catch (err) {
    // Everything runs by now: a database that does not answer this one look (restarting, just failed over) must not
    // fail a start that has succeeded. Thrown from here, it left the server and the workers running after the
    // command had reported its failure, without its signal handlers, so a SIGTERM killed it mid-work.
    log.warn({ err }, 'could not look whether the console needs its first-admin link: restart Sluice to be offered one');
    return;
  }
  log.info(
    { console: consoleUrl, setupLinkPrinted: setupUrl !== undefined },
    setupUrl ? 'console ready; the setup link is on stderr' : 'console ready',
  );
  // HOST=0.0.0.0 (or ::) without SLUICE_PUBLIC_URL: the links below, and every webhook URL Sluice shows, name an
  // address that only means "this machine" to the machine that opens it.
  const anyAddress = everyAddress(ctx.config.host) && !ctx.config.publicUrl ? ctx.config.host : undefined;
  if (anyAddress) {
    log.warn(
      { host: anyAddress },
      `the webhook URLs and console links say ${ctx.publicUrl()}, which nobody elsewhere can reach: set SLUICE_PUBLIC_URL to the address they use`,
    );
  }
  const hint = anyAddress
    ? `  (${anyAddress} is no address a browser or a provider elsewhere can reach: put this machine's address in its place, and set\n` +
      '  SLUICE_PUBLIC_URL to it so that the links and webhook URLs Sluice shows say it.)\n'
    : '';
  process.stderr.write(
    setupUrl
      ? `\n  Sluice console: ${consoleUrl}\n${hint}  Nobody can sign in yet. Create the first admin with this one-time link (valid 72 hours):\n\n    ${setupUrl}\n\n`
      : `\n  Sluice console: ${consoleUrl}\n${hint}\n`,
  );
}

/** Whether HOST is the unspecified address (0.0.0.0, ::): listening on every address. */
function everyAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(bare) && ipaddr.parse(bare).range() === 'unspecified';
}

/**
 * Starts the roles over the store `opening` resolves to (by default opened here). `sluice start` opens it itself
 * before it loads this module, so that a first start's initdb runs beside the loading (commands/start.ts).
 */
export async function startSluice(
  config: Config,
  role: Role,
  log: Logger = createLogger(config),
  opening: Promise<Store> = openStore(config, log),
): Promise<RunningSluice> {
  // openStore makes the data dir private first, so the master key is written into a private dir.
  const { db, lock, fixedPermissions: fixed } = await opening;
  let masterKey: { key: string; generated: boolean };
  try {
    masterKey = loadOrCreateMasterKey(config.secretKey, config.dataDir);
  } catch (err) {
    await db.close();
    lock?.release();
    throw err;
  }
  if (masterKey.generated) {
    log.warn({ dataDir: config.dataDir }, 'generated a master key into the data dir (secret.key); back it up, or set SLUICE_SECRET_KEY');
  }
  if (fixed.length > 0) {
    log.warn(
      { dataDir: config.dataDir, fixed: fixed.length, examples: fixed.slice(0, 5) },
      'the data dir was readable by other users; removed group/other permissions',
    );
  }
  let url: string | undefined;
  let listenedPort: number | undefined;
  let worker: EventWorker | undefined;
  let sender: DeliveryWorker | undefined;
  let workflows: WorkflowWorker | undefined;
  let retention: RetentionJob | undefined;
  let checker: ParityChecker | undefined;
  let scheduler: Scheduler | undefined;
  const ctx: Ctx = createContext(config, {
    db,
    masterKey: masterKey.key,
    log,
    publicUrl: () => publicBaseUrl(config, listenedPort),
    onEventStored: () => worker?.wake(),
    onDeliveriesQueued: () => sender?.wake(),
    onChecksDue: (atMs) => checker?.wake(atMs),
  });

  try {
    await checkMasterKey(ctx, config.secretKey !== undefined ? 'SLUICE_SECRET_KEY' : `${config.dataDir}/secret.key`);
  } catch (err) {
    await db.close();
    lock?.release();
    throw err;
  }
  const admin = await ensureAdminToken(ctx);
  if (admin.generated) {
    // Shown on stderr, never as a log line: stdout carries the JSON-lines log (one object a line, what log
    // shippers parse), and a secret has no place in it. Under systemd or Docker stderr is captured too, so it
    // is still printed once where the operator looks; the log says where, without the token.
    log.warn('generated an admin token on first start; it is printed once on stderr and only its hash is stored');
    process.stderr.write(
      `\n  Sluice generated an admin token. It is shown this once; only its hash is stored:\n\n    ${admin.generated}\n\n` +
        '  Use it as `Authorization: Bearer <token>` on /api/v1, or set SLUICE_ADMIN_TOKEN instead.\n\n',
    );
  }
  // In embedded mode, CLI commands run while this process holds the data dir reach it through HTTP with
  // this per-run token, read from the 0600 lock file.
  const cliToken = lock ? newToken('sluice_cli') : undefined;
  const adminHashes = [admin.hash, ...(cliToken ? [hashToken(cliToken)] : [])];

  // A scheduled slot still running at the deadline is left to another instance's takeover; a scan running here
  // is stopped after its current page and released, so another instance (or this one's next start) resumes it
  // from its saved cursor at once instead of after the stale-heartbeat delay.
  const stopWork = async (deadline: number) => {
    await Promise.all([
      worker?.stop(deadline),
      sender?.stop(deadline),
      workflows?.stop(deadline),
      retention?.stop(),
      scheduler?.stop(deadline),
      stopScans(ctx, { release: true }),
      checker?.stop(),
    ]);
  };

  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    if (role !== 'api') {
      // Embedded: this process is the only worker there can be, so claims left by a crash are ours to free.
      if (lock) {
        const freed = await releaseOrphanedClaims(ctx);
        if (freed > 0) log.info({ freed }, 'released event claims left by the previous run');
        await releaseOrphanedDeliveries(ctx); // logs what it freed
        const freedSteps = (await releaseOrphanedWorkflowSteps(ctx)) + (await releaseOrphanedWorkflowTriggers(ctx));
        if (freedSteps > 0) log.info({ freed: freedSteps }, 'released workflow claims left by the previous run');
      }
      worker = startEventWorker(ctx);
      sender = startDeliveryWorker(ctx);
      workflows = startWorkflowWorker(ctx);
      retention = startRetentionJob(ctx);
      checker = startParityChecker(ctx);
      scheduler = createScheduler(ctx, { schedules: () => allSchedules(ctx) });
      void scheduler.start();
    } else if (lock) {
      log.warn('role api on the embedded database: no worker can run beside it, so events are stored but not processed');
    }
    if (role !== 'worker') {
      app = await buildApp({ ctx, admin: { hashes: adminHashes } });
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      if (address && typeof address === 'object') {
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        url = `http://${host}:${address.port}`;
        listenedPort = address.port;
      }
      lock?.update({ url, cliToken });
    }
  } catch (err) {
    // A start that fails here (the port in use) stops its work as a SIGTERM does: what the workers and scheduled
    // jobs hold after a moment of running is finished or handed back before the pool closes, not cut off (with
    // a timeout of 0 every worker warned that it did not finish, and a job in flight failed on the closed pool).
    await stopWork(config.shutdownTimeoutMs);
    await app?.close();
    await db.close();
    lock?.release();
    throw err;
  }
  log.info({ url, role, database: db.kind, publicUrl: ctx.publicUrl() }, 'sluice started');
  if (app) await offerConsole(ctx, log);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: no new requests, finishing in-flight work');
      const deadline = config.shutdownTimeoutMs;
      if (app) {
        await drainConnections(app, Math.min(DRAIN_MS, deadline));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          app.close(),
          new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              log.warn('in-flight requests did not finish in time; closing their connections');
              app?.server.closeAllConnections();
              resolve();
            }, deadline);
          }),
        ]);
        clearTimeout(timer);
      }
      await stopWork(deadline);
      await db.close();
      lock?.release();
      log.info('stopped');
    })());
  return { url, ctx, stop };
}
