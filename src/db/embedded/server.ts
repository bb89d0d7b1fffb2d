// The postmaster: started detached (its own session, so a Ctrl-C on Sluice's terminal reaches Sluice alone,
// which then drains and stops the server last), writing to a log file (never a pipe: an orphaned server must
// not block on a full pipe nobody reads), found again through <cluster>/postmaster.pid.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PgBinaries } from './binaries.js';
import { isAlive } from '../../lib/process-alive.js';
import { EmbeddedDbError } from './errors.js';
import { asServerUser, type ServerUser } from './os-user.js';
import { DATABASE, PORT, startArgs, SUPERUSER } from './settings.js';

export interface Connection {
  /** The socket directory (node-postgres takes a path as host). */
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PostmasterInfo {
  pid: number;
  socketDir: string;
  port: number;
}

const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
// sun_path holds 104 (macOS) to 108 (Linux) bytes with its terminating NUL.
const MAX_SOCKET_PATH = 100;

/** Where the socket goes: the cluster dir, or a short private dir when that path would be too long. */
export function socketDirFor(clusterDir: string): string {
  if (path.join(clusterDir, `.s.PGSQL.${PORT}.lock`).length <= MAX_SOCKET_PATH) return clusterDir;
  const tag = createHash('sha256').update(clusterDir).digest('hex').slice(0, 16);
  return path.join(process.platform === 'win32' ? tmpdir() : '/tmp', `sluice-pg-${tag}`);
}

function prepareSocketDir(dir: string, clusterDir: string, user: ServerUser | undefined): void {
  if (dir === clusterDir) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A shared /tmp: the dir must be ours (or our server user's), not planted by someone else.
  const st = lstatSync(dir);
  const owner = user?.uid ?? process.getuid?.();
  if (!st.isDirectory() || (owner !== undefined && st.uid !== owner && st.uid !== process.getuid?.())) {
    throw new EmbeddedDbError(
      'EMBEDDED_DB_SOCKET_DIR',
      `the socket directory ${dir} exists and is not owned by the server's user; remove it`,
    );
  }
  if (user) chownSync(dir, user.uid, user.gid);
}

export function readPostmasterPid(clusterDir: string): PostmasterInfo | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, port: Number(lines[3]) || PORT, socketDir: lines[4]?.trim() || clusterDir };
}

/** On Linux, whether the pid runs a postgres server of this cluster (after a reboot the old pid may be anybody,
 *  the system's own PostgreSQL or another data dir's server included). */
export function runsPostgres(pid: number, clusterDir: string): boolean {
  if (process.platform !== 'linux') return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    // Empty while the process is on its way out (its memory already released): cannot tell, and it is
    // about to be gone anyway, which the caller's wait sees.
    if (cmdline === '') return true;
    if (!/(^|\/)postgres\0/.test(cmdline)) return false;
  } catch {
    return true; // cannot tell: assume it is, and let the connection attempt decide
  }
  // A postmaster works in its data directory; another user's process may not let us look (then the connection
  // attempt decides, as before).
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(clusterDir);
  } catch {
    return true;
  }
}

export function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * glibc's malloc raises its mmap threshold up to 32 MB after a large block is freed, and from then on keeps such
 * blocks on the heap: a backend that once built a large statement (a group-commit flush, a batch of messages) kept
 * ~8 MB more than its memory contexts held, for good, in each of the pool's processes. A fixed threshold gives
 * blocks of 256 KB and more back to the system when freed. Other C libraries ignore these variables.
 */
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(256 * 1024), MALLOC_TRIM_THRESHOLD_: String(1024 * 1024) };

/** Starts the postmaster; returns its pid and a promise that settles if it exits. */
export function spawnPostmaster(
  bins: PgBinaries,
  clusterDir: string,
  logFile: string,
  user: ServerUser | undefined,
  extra: Record<string, string> = {},
): { pid: number; socketDir: string; exited: Promise<number | null> } {
  const socketDir = socketDirFor(clusterDir);
  prepareSocketDir(socketDir, clusterDir, user);
  try {
    if (statSync(logFile).size > LOG_ROTATE_BYTES) renameSync(logFile, `${logFile}.1`);
  } catch {
    // no log yet
  }
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const extraArgs = Object.entries(extra).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    // setpriv (pass-through user) execs postgres in place, so the pid is the postmaster's either way.
    const run = asServerUser(user, bins.postgres, ['-D', clusterDir, ...startArgs(socketDir), ...extraArgs]);
    const child = spawn(run.command, run.args, {
      cwd: clusterDir,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { PATH: process.env.PATH ?? '', LANG: 'C', LC_ALL: 'C', PGTZ: 'UTC', ...MALLOC_ENV },
      ...run.ids,
    });
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => resolve(code));
      child.on('error', () => resolve(-1));
    });
    child.unref();
    if (child.pid === undefined) throw new EmbeddedDbError('EMBEDDED_DB_START_FAILED', `could not run ${bins.postgres}`);
    return { pid: child.pid, socketDir, exited };
  } finally {
    closeSync(fd);
  }
}

export function connectionFor(info: { socketDir: string; port: number }, password: string): Connection {
  return { host: info.socketDir, port: info.port, user: SUPERUSER, password, database: DATABASE };
}

/** One connection attempt: 'ok', 'starting' (not up yet, try again) or 'refused' (up, but our password is not accepted). */
export async function probe(conn: Connection): Promise<'ok' | 'starting' | 'refused'> {
  const client = new pg.Client({ ...conn, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 28P01 wrong password, 28000 no such role: a server, but not one made with our password file.
    if (code === '28P01' || code === '28000' || code === '3D000') return 'refused';
    return 'starting';
  } finally {
    await client.end().catch(() => {});
  }
}

/** Polls until a real connection succeeds; fails early if `exited` settles, or at the deadline. */
export async function waitReady(
  conn: Connection,
  deadlineMs: number,
  exited: Promise<unknown> | undefined,
): Promise<'ok' | 'refused' | 'exited' | 'timeout'> {
  let gone = false;
  void exited?.then(() => (gone = true));
  const until = Date.now() + deadlineMs;
  for (;;) {
    // A socket file that does not exist yet is a sure "not yet": skip the connection attempt.
    const result = existsSync(path.join(conn.host, `.s.PGSQL.${conn.port}`)) ? await probe(conn) : 'starting';
    if (result !== 'starting') return result;
    if (gone) return 'exited';
    if (Date.now() > until) return 'timeout';
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Joining and leaving a shared server are made mutually exclusive by one advisory lock, so that a process can
// never join a server at the instant its last other user decides to stop it. A joining process holds the lock
// shared for a moment, through a session it then keeps for its whole life (its membership: a pool may idle
// down to no session at all, and must not make the process invisible); a leaving process holds it exclusively
// from before it counts the others until the server has stopped. A joiner that arrives during a stop waits on
// the lock, is counted as a user (its session is open), or is cut off by the shutdown and starts a server anew.

/** The advisory lock of the server's lifecycle (any constant; the embedded cluster is Sluice's alone). */
export const LIFECYCLE_LOCK = 0x51_1c_e0_01;
/** Names the session a leaving process counts the others with (it has closed its pool and membership before). */
const RELEASE_SESSION = 'sluice-release';
const MEMBER_SESSION = 'sluice-member';

function socketOf(client: pg.Client): { ref?: () => void; unref?: () => void } | undefined {
  return (client as unknown as { connection?: { stream?: { ref?: () => void; unref?: () => void } } }).connection?.stream;
}

/** Membership of the server: a session that counts this process among its users until `end()`. */
export interface Membership {
  end(): Promise<void>;
}

/**
 * Joins the server as one of its users; undefined when it is stopping under us (its last user left as we
 * arrived: the caller then starts it again).
 */
export async function joinServer(conn: Connection): Promise<Membership | undefined> {
  const client = new pg.Client({ ...conn, connectionTimeoutMillis: 5_000, application_name: MEMBER_SESSION });
  client.on('error', () => {}); // a server stopped by somebody else later: nothing to do, the session is just gone
  try {
    await client.connect();
    await client.query('SELECT pg_advisory_lock_shared($1)', [LIFECYCLE_LOCK]);
    await client.query('SELECT pg_advisory_unlock_shared($1)', [LIFECYCLE_LOCK]);
    // The membership alone must never keep the process alive (a pool closes its idle sessions; this one stays).
    socketOf(client)?.unref?.();
  } catch {
    await client.end().catch(() => {});
    return undefined;
  }
  let ended = false;
  return {
    async end() {
      if (ended) return;
      ended = true;
      // Waiting for the goodbye must keep the process alive, or a process with nothing else left exits mid-await.
      socketOf(client)?.ref?.();
      await client.end().catch(() => {});
    },
  };
}

/**
 * Stops the server at `pid` unless client sessions other than the caller's use it (a CLI command, another
 * process). The counting sessions of other processes leaving at the same instant do not count: each would
 * otherwise see the other's and both would leave the server running, with nobody left to stop it; the lock
 * makes them count one after the other, and the second finds the server gone.
 */
export async function stopUnlessUsed(conn: Connection, pid: number, deadlineMs: number): Promise<{ stopped: boolean; others: number }> {
  const client = new pg.Client({
    ...conn,
    connectionTimeoutMillis: 2_000,
    application_name: RELEASE_SESSION,
    // A joiner holds the lock for a moment only; one that hangs must not hold our exit for ever.
    statement_timeout: 10_000,
  });
  client.on('error', () => {}); // the shutdown we ask for ends this session too
  try {
    try {
      await client.connect();
      await client.query('SELECT pg_advisory_lock($1)', [LIFECYCLE_LOCK]);
    } catch (err) {
      // Not answering, or stopped while we waited (another leaver stopped it): nothing of anybody's to keep.
      // A lock wait that timed out is the one case of a live server: leave it running rather than guess.
      if ((err as { code?: string }).code === '57014') return { stopped: false, others: 1 };
      return { stopped: await stopPostmaster(pid, deadlineMs), others: 0 };
    }
    // A session a process closed a moment ago can still be listed while its backend exits (the client's close
    // does not wait for that), and a starting process's probe lasts a moment too: two processes leaving together
    // would each count the other's and both leave the server running. So a count above zero is taken again for
    // up to a second; only sessions that stay (a process still running, someone's psql) keep the server up.
    let others = 0;
    for (let look = 0; look < 10; look++) {
      const res = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM $1`,
        [RELEASE_SESSION],
      );
      others = res.rows[0]?.n ?? 0;
      if (others === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (others > 0) return { stopped: false, others };
    // Still holding the lock: nobody can join between our count and the end of the server.
    return { stopped: await stopPostmaster(pid, deadlineMs), others: 0 };
  } catch {
    return { stopped: await stopPostmaster(pid, deadlineMs), others: 0 };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Fast shutdown (SIGINT: sessions ended, a checkpoint written), waiting up to deadlineMs for the pid to go. */
export async function stopPostmaster(pid: number, deadlineMs: number): Promise<boolean> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return true;
  }
  const until = Date.now() + deadlineMs;
  while (isAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}
