// The embedded server's lifecycle as Sluice sees it: find the binaries, create the cluster on first start,
// then either adopt the server already running on it (left by a killed Sluice, or started by another sluice
// process on the same data dir) or start one; at the end, stop it unless somebody else still uses it.
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from '../../lib/process-alive.js';
import { findBinaries, type PgBinaries } from './binaries.js';
import { clusterPaths, ensureCluster, readPassword, type ClusterPaths } from './cluster.js';
import { EmbeddedDbError } from './errors.js';
import { reachableBinaries, reachingUser, serverUser, userName, type ServerUser } from './os-user.js';
import {
  connectionFor,
  joinServer,
  readPostmasterPid,
  runsPostgres,
  spawnPostmaster,
  stopPostmaster,
  stopUnlessUsed,
  tailOf,
  waitReady,
  type Connection,
  type Membership,
} from './server.js';

export interface EmbeddedOptions {
  dataDir: string;
  /** The OS user the server runs as when Sluice runs as root (SLUICE_EMBEDDED_DB_USER, default sluice). */
  osUser?: string;
  /** How long a starting server may take to accept a connection. */
  readyTimeoutMs?: number;
  /** Extra -c settings when this call starts the server (the test suite's shared server takes more connections). */
  serverSettings?: Record<string, string>;
  /** One call per step worth a log line (created, started, adopted, stopped). */
  onEvent?: (msg: string, fields: Record<string, unknown>) => void;
  /** A step worth a warning: the server exited while in use and is being started again. */
  onTrouble?: (msg: string, fields: Record<string, unknown>) => void;
  /** The server exited and cannot be kept running (see startEmbeddedServer); the caller should stop. */
  onLost?: (reason: string) => void;
}

export interface EmbeddedServer {
  readonly connection: Connection;
  /** The server's pid now: a new one after a restart. */
  readonly pid: number;
  /** True when a running server was found and reused; false when this call started it. */
  readonly adopted: boolean;
  /** True when this call ran initdb (a new, empty cluster). */
  created: boolean;
  paths: ClusterPaths;
  /** Stops the server unless other client sessions use it; resolves whether it stopped. */
  release(deadlineMs?: number): Promise<boolean>;
  /** Leaves the server running without counting as its user any more (a launcher handing it to others). */
  detach(): Promise<void>;
}

function chownTree(dir: string, user: ServerUser): void {
  chownSync(dir, user.uid, user.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.name === 'sluice.password') continue; // stays Sluice's own
    if (entry.isDirectory()) chownTree(p, user);
    else if (!entry.isSymbolicLink()) chownSync(p, user.uid, user.gid);
  }
}

/**
 * Not root: the server runs as this user, so the cluster must be this user's. A start as root hands it to the
 * server's user (chownTree), after which an ordinary user's start met a bare EACCES on the cluster dir.
 */
function assertOwnCluster(dataDir: string, clusterDir: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  let owner: number;
  try {
    owner = statSync(clusterDir).uid;
  } catch {
    return; // no cluster yet (or the data dir itself is unusable, which opening it reports)
  }
  if (owner === uid) return;
  const me = userName(uid) ?? String(uid);
  const them = userName(owner);
  throw new EmbeddedDbError(
    'EMBEDDED_DB_NOT_OURS',
    `the embedded PostgreSQL cluster ${clusterDir} belongs to ${them ? `the user ${them}` : `uid ${owner}`}, not to ${me} who runs Sluice now: ` +
      "a start as root hands the cluster to the server's user (SLUICE_EMBEDDED_DB_USER, default sluice). Start Sluice as root again, " +
      `or give the data dir back to this user: sudo chown -R ${me}: ${dataDir}`,
  );
}

async function prepare(
  opts: EmbeddedOptions,
): Promise<{ bins: PgBinaries; user: ServerUser | undefined; paths: ClusterPaths; created: boolean }> {
  let bins = findBinaries();
  let user = serverUser(opts.osUser ?? 'sluice');
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const paths = clusterPaths(dataDir);
  if (user) {
    // The data dir must let the server's user through to its cluster: search only (0711), no listing; the
    // files beside the cluster (master key, lock) stay 0600 root.
    const mode = statSync(dataDir).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(dataDir, mode | 0o011);
    user = reachingUser(paths.dir, user);
    bins = reachableBinaries(bins, user);
  } else {
    assertOwnCluster(dataDir, paths.dir);
  }
  const created = await ensureCluster(paths, bins, user);
  // A cluster restored or copied by root must belong to the server's user, or postgres refuses it.
  if (user && statSync(paths.dir).uid !== user.uid) chownTree(paths.dir, user);
  return { bins, user, paths, created };
}

/**
 * The pid of the server that holds the cluster now, as its postmaster.pid says, when that is a live postgres of this
 * cluster; `fallback` otherwise. Every process reaches the cluster's server through the same socket, so the server a
 * process joined is this one, whichever process started it.
 */
export function clusterServerPid(clusterDir: string, fallback: number): number {
  const holder = readPostmasterPid(clusterDir);
  return holder && isAlive(holder.pid) && runsPostgres(holder.pid, clusterDir) ? holder.pid : fallback;
}

/** Resolves when the process is gone (polled: it is not our child). */
function whenGone(pid: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      if (!isAlive(pid)) resolve();
    }, 50);
  });
  return { promise, cancel: () => clearInterval(timer) };
}

interface Running {
  pid: number;
  connection: Connection;
  adopted: boolean;
  membership: Membership;
}

/** How often the server's pid is looked at, and how many restarts within RESTART_WINDOW_MS are tried before giving up. */
const WATCH_EVERY_MS = 1_000;
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 10 * 60_000;

/**
 * Starts (or adopts) the embedded server of the data dir; resolves once a real connection succeeds. Then watches
 * it: a server that exits while Sluice runs (the OOM killer, a kill -9) is started again, which replays its WAL and
 * loses nothing committed; the pool's next connections reach the new one on the same socket. After MAX_RESTARTS
 * within RESTART_WINDOW_MS, `onLost` is called instead (Sluice then stops, so that its service manager sees it).
 */
export async function startEmbeddedServer(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const emit = opts.onEvent ?? (() => {});
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const { bins, user, paths, created } = await prepare(opts);
  const password = readPassword(paths);
  if (created) emit('created the embedded PostgreSQL cluster', { dir: paths.dir, version: bins.version });

  let current = await bringUp(opts, bins, user, paths, password, readyTimeoutMs);
  let stopping = false;
  const restarts: number[] = [];
  let restarting = false;
  const watch = setInterval(() => {
    if (stopping || restarting || isAlive(current.pid)) return;
    const gone = current.pid;
    const now = Date.now();
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) {
      clearInterval(watch);
      opts.onLost?.(
        `the embedded PostgreSQL server exited and was started again ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS / 60_000} minutes, and is down again; its log: ${paths.logFile}`,
      );
      return;
    }
    restarts.push(now);
    restarting = true;
    opts.onTrouble?.('the embedded PostgreSQL server exited while in use: starting it again (it recovers from its WAL)', {
      postgresPid: gone,
      log: paths.logFile,
    });
    void current.membership
      .end()
      .then(() => bringUp(opts, bins, user, paths, password, readyTimeoutMs))
      .then(
        (next) => {
          current = next;
          if (stopping) void next.membership.end();
          else emit('the embedded PostgreSQL server runs again', { postgresPid: next.pid });
        },
        // Its backends may still hold the old server's shared memory for a moment: the next look tries again,
        // and counts as another restart.
        (err: unknown) =>
          opts.onTrouble?.('the embedded PostgreSQL server could not be started again yet', { error: (err as Error).message }),
      )
      .finally(() => (restarting = false));
  }, WATCH_EVERY_MS);
  watch.unref();

  return {
    get connection() {
      return current.connection;
    },
    get pid() {
      return current.pid;
    },
    get adopted() {
      return current.adopted;
    },
    created,
    paths,
    async release(deadlineMs = 15_000) {
      stopping = true;
      clearInterval(watch);
      const { connection, membership } = current;
      // What the count below is about is the server on the socket, so that is the one to stop: should the pid noted
      // at the start be another's (see bringUp), stopping it would leave the real one running with nobody in it.
      const pid = clusterServerPid(paths.dir, current.pid);
      await membership.end();
      const { stopped, others } = await stopUnlessUsed(connection, pid, deadlineMs);
      if (others > 0) emit('left the embedded PostgreSQL server running: other sessions use it', { postgresPid: pid, sessions: others });
      else
        emit(stopped ? 'stopped the embedded PostgreSQL server' : 'the embedded PostgreSQL server did not stop in time', {
          postgresPid: pid,
        });
      return stopped;
    },
    async detach() {
      stopping = true;
      clearInterval(watch);
      await current.membership.end();
    },
  };
}

/** One server up and joined: the running one adopted, or one started. */
async function bringUp(
  opts: EmbeddedOptions,
  bins: PgBinaries,
  user: ServerUser | undefined,
  paths: ClusterPaths,
  password: string,
  readyTimeoutMs: number,
): Promise<Running> {
  const emit = opts.onEvent ?? (() => {});
  // A few rounds: a server another process is starting at this instant makes our own start fail on the lock
  // file, and one being stopped by its last user refuses connections (or cuts off our joining session) until it
  // is gone; the next round then adopts the first, or starts in place of the second.
  const rounds = 5;
  for (let attempt = 0; attempt < rounds; attempt++) {
    const running = readPostmasterPid(paths.dir);
    if (running && isAlive(running.pid)) {
      if (!runsPostgres(running.pid, paths.dir)) {
        // After a reboot the pid of the old server belongs to some other process: the file is stale. Another
        // process starting at this instant may have removed it first.
        rmSync(path.join(paths.dir, 'postmaster.pid'), { force: true });
      } else {
        const conn = connectionFor(running, password);
        const gone = whenGone(running.pid);
        const state = await waitReady(conn, readyTimeoutMs, gone.promise);
        gone.cancel();
        const membership = state === 'ok' ? await joinServer(conn) : undefined;
        if (membership) {
          emit('reusing the embedded PostgreSQL server already running on the data dir', { postgresPid: running.pid });
          return { pid: running.pid, connection: conn, adopted: true, membership };
        }
        if (state === 'ok') continue; // stopped by its last user as we joined
        // It was shutting down (the last user of it just left): start our own.
        if (state === 'exited') continue;
        throw new EmbeddedDbError(
          'EMBEDDED_DB_FOREIGN_SERVER',
          `a PostgreSQL server (pid ${running.pid}) runs on ${paths.dir} but ` +
            (state === 'refused'
              ? 'does not accept the password Sluice generated for it (sluice.password): it is not the server Sluice set up. '
              : `did not accept a connection on ${running.socketDir} within ${Math.round(readyTimeoutMs / 1000)} s. `) +
            `Stop it (kill ${running.pid}) and start Sluice again; its log: ${paths.logFile}`,
        );
      }
    }
    const started = spawnPostmaster(bins, paths.dir, paths.logFile, user, opts.serverSettings);
    const conn = connectionFor({ socketDir: started.socketDir, port: 5432 }, password);
    const state = await waitReady(conn, readyTimeoutMs, started.exited);
    const membership = state === 'ok' ? await joinServer(conn) : undefined;
    if (membership) {
      // Another process may have started a server on the cluster at the same instant, between our look at
      // postmaster.pid and our spawn: ours then exits on the lock file, but if the other answered on the shared
      // socket before we saw ours go, we have joined the other. Which one is the file's to say. Keeping our own
      // pid would have a last process stop a server that is already gone and leave the real one running.
      const pid = clusterServerPid(paths.dir, started.pid);
      if (pid !== started.pid) {
        emit('reusing the embedded PostgreSQL server another process started at the same time', { postgresPid: pid });
        return { pid, connection: conn, adopted: true, membership };
      }
      emit('started the embedded PostgreSQL server', { postgresPid: started.pid, log: paths.logFile });
      return { pid: started.pid, connection: conn, adopted: false, membership };
    }
    // Adopted and stopped by another process between its start and our joining it: start again.
    if (state === 'ok' && attempt < rounds - 1) continue;
    // Another process's server took the cluster first (ours exited on its lock file): adopt that one.
    const holder = readPostmasterPid(paths.dir);
    if (state === 'exited' && attempt < rounds - 1 && holder && holder.pid !== started.pid && isAlive(holder.pid)) continue;
    if (state !== 'exited') await stopPostmaster(started.pid, 5_000);
    throw new EmbeddedDbError(
      'EMBEDDED_DB_START_FAILED',
      `the embedded PostgreSQL server did not start (${state === 'exited' ? 'it exited' : state === 'refused' ? 'it refused our password' : `no connection within ${Math.round(readyTimeoutMs / 1000)} s`}). ` +
        `Last lines of ${paths.logFile}:\n${tailOf(paths.logFile)}`,
    );
  }
  throw new EmbeddedDbError('EMBEDDED_DB_START_FAILED', `the embedded PostgreSQL server did not start; see ${paths.logFile}`);
}
