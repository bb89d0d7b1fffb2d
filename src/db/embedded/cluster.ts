// The cluster: a PostgreSQL data directory at <SLUICE_DATA_DIR>/postgres, created once by initdb. initdb runs
// in a staging dir beside it that is renamed into place when complete, so a crash mid-init leaves no half
// cluster, and two processes initialising at once end with one cluster (the loser drops its copy).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { isAlive } from '../../lib/process-alive.js';
import type { PgBinaries } from './binaries.js';
import { EmbeddedDbError } from './errors.js';
import { asServerUser, type ServerUser } from './os-user.js';
import { confBlock, SUPERUSER } from './settings.js';

export interface ClusterPaths {
  dir: string;
  /** The generated superuser password, 0600, owned by Sluice's user. */
  passwordFile: string;
  /** The server's stdout/stderr. */
  logFile: string;
}

export function clusterPaths(dataDir: string): ClusterPaths {
  const dir = path.join(dataDir, 'postgres');
  return { dir, passwordFile: path.join(dir, 'sluice.password'), logFile: path.join(dataDir, 'postgres.log') };
}

export function readPassword(paths: ClusterPaths): string {
  try {
    return readFileSync(paths.passwordFile, 'utf8').trim();
  } catch {
    throw new EmbeddedDbError(
      'EMBEDDED_DB_NO_PASSWORD',
      `the embedded PostgreSQL cluster ${paths.dir} has no password file (${paths.passwordFile}): it was not created by Sluice, ` +
        'or the file was removed. Restore the file from a backup, or move the cluster away to start a new one',
    );
  }
}

/** Fails when the cluster was made by another PostgreSQL major version than the binaries', or its PG_VERSION
 *  file does not say which. */
export function checkVersion(paths: ClusterPaths, bins: PgBinaries): void {
  const file = path.join(paths.dir, 'PG_VERSION');
  const damaged = (what: string) =>
    new EmbeddedDbError(
      'EMBEDDED_DB_VERSION',
      `the embedded database in ${paths.dir} cannot be opened: ${what}, so which PostgreSQL made it is unknown. ` +
        'The cluster is damaged or was not made by PostgreSQL: restore the data dir from a backup, or move ' +
        `${paths.dir} away to start with a new, empty database`,
    );
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    throw damaged(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const found = raw.trim();
  // PostgreSQL writes its major version and a newline ("18", or "9.6" before version 10). Anything else is not
  // quoted unless it is short printable text: the message goes to a terminal, where control bytes would act.
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(found)) {
    const shown =
      found === ''
        ? ' (it is empty)'
        : /^[\x20-\x7e]{1,40}$/.test(found)
          ? ` (it holds "${found}")`
          : ` (it holds ${Buffer.byteLength(raw)} bytes of something else)`;
    throw damaged(`${file} does not hold a PostgreSQL version number${shown}`);
  }
  if (Number(found) === bins.major) return;
  throw new EmbeddedDbError(
    'EMBEDDED_DB_VERSION',
    `the embedded database in ${paths.dir} was made by PostgreSQL ${found}, and this release of Sluice runs PostgreSQL ${bins.major} ` +
      `(${bins.version}); a server cannot open another major version's files. Keep the previous Sluice release, or carry the data over: ` +
      `start the old release, pg_dump it over its socket, and restore into a new data dir (or pg_upgrade the cluster with both versions' binaries). ` +
      'See docs/operations.md, "Upgrading the embedded PostgreSQL"',
  );
}

/** Runs a program to its end; its exit code (null when a signal ended it), output, or the error of its spawn. */
function runToEnd(
  command: string,
  args: string[],
  opts: { cwd: string; uid?: number; gid?: number; env: NodeJS.ProcessEnv },
): Promise<{ status: number | null; output: string; error?: Error }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', (error) => resolve({ status: null, output, error }));
    child.on('close', (status) => resolve({ status, output }));
  });
}

/**
 * Creates the cluster when missing; returns true when it did. initdb runs as a child the event loop does not wait
 * on: `sluice start` loads the app meanwhile (about as long again on a small machine).
 */
export async function ensureCluster(paths: ClusterPaths, bins: PgBinaries, user: ServerUser | undefined): Promise<boolean> {
  if (existsSync(path.join(paths.dir, 'PG_VERSION'))) {
    checkVersion(paths, bins);
    return false;
  }
  if (existsSync(paths.dir) && readdirSync(paths.dir).length > 0) {
    throw new EmbeddedDbError(
      'EMBEDDED_DB_NOT_A_CLUSTER',
      `${paths.dir} exists but holds no PostgreSQL cluster (no PG_VERSION); move it away and start again`,
    );
  }
  const dataDir = path.dirname(paths.dir);
  removeDeadStaging(dataDir);
  const staging = path.join(dataDir, `postgres.init-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const stagedCluster = path.join(staging, 'cluster');
  const pwfile = path.join(staging, 'initdb.pw');
  const password = randomBytes(24).toString('base64url');
  try {
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) {
      chownSync(staging, user.uid, user.gid);
      chownSync(pwfile, user.uid, user.gid);
    }
    const initdb = asServerUser(user, bins.initdb, [
      '-D',
      stagedCluster,
      '-U',
      SUPERUSER,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
      // One syncfs() of the file system instead of an fsync per file: as durable, and ~0.4 s faster.
      ...(process.platform === 'linux' ? ['--sync-method=syncfs'] : []),
    ]);
    const r = await runToEnd(initdb.command, initdb.args, {
      cwd: staging,
      ...initdb.ids,
      env: { PATH: process.env.PATH ?? '', LANG: 'C', LC_ALL: 'C' },
    });
    if (r.status !== 0) {
      const why = (r.error?.message ?? r.output).trim().split('\n').slice(-8).join('\n');
      throw new EmbeddedDbError('EMBEDDED_DB_INIT_FAILED', `initdb failed to create the embedded PostgreSQL cluster:\n${why}`);
    }
    appendFileSync(path.join(stagedCluster, 'postgresql.conf'), confBlock());
    // Owned by Sluice's user (root when root), 0600: the server's own user has no need to read it.
    writeFileSync(path.join(stagedCluster, 'sluice.password'), `${password}\n`, { mode: 0o600 });
    try {
      if (existsSync(paths.dir)) rmdirSync(paths.dir); // the empty dir checked above
    } catch {
      // not empty any more: another process won the race, the rename below fails and we use its cluster
    }
    try {
      renameSync(stagedCluster, paths.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(path.join(paths.dir, 'PG_VERSION'))) return false;
      throw err;
    }
    return true;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Staging dirs of initdb runs whose Sluice died (a kill -9 during the first start). */
function removeDeadStaging(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    const m = /^postgres\.init-(\d+)$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = path.join(dataDir, name);
    // The initdb that Sluice started outlives it and may still be writing there: stop it first, and wait until
    // it is gone (a SIGKILL takes effect when the process next runs, which on a loaded machine is not at once).
    const killed = stopProcessesUsing(dir);
    for (const until = Date.now() + 2_000; killed.some((pid) => isAlive(pid)) && Date.now() < until;) sleepSync(20);
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      // Still being written (a process we could not see or stop): harmless where it is, since this start stages
      // under its own name; the next start removes it.
    }
  }
}

/** On Linux, SIGKILL to the processes whose command line names a path under `dir` (an orphaned initdb and the
 *  bootstrap postgres it runs); returns the pids signalled. Elsewhere nothing: the removal above then retries, or leaves the dir. */
function stopProcessesUsing(dir: string): number[] {
  if (process.platform !== 'linux') return [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(`${dir}/`)) {
        process.kill(Number(pid), 'SIGKILL');
        killed.push(Number(pid));
      }
    } catch {
      // gone meanwhile, or not ours to read or signal
    }
  }
  return killed;
}

/** Blocks the thread for `ms` (removeDeadStaging runs once, before the first initdb; nothing else waits on it). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
