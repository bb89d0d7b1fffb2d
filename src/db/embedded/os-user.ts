// PostgreSQL refuses to run as root. When Sluice runs as root (containers, CI, a quick try on a server), the
// server runs as a dedicated unprivileged user instead (default `sluice`, SLUICE_EMBEDDED_DB_USER), created as
// a system user when missing. That user must be able to reach the binaries and the cluster dir: every
// ancestor directory traversable by it. Where one is not (a project or data dir under root's 0700 home, a
// mktemp dir), the server is started through util-linux `setpriv` as that user with one ambient capability,
// CAP_DAC_READ_SEARCH: it may then pass and read through directories it does not own, while it still writes
// only where it owns files and never runs as uid 0 (PostgreSQL's own rule). Nothing on the host is chmod'ed.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { PgBinaries } from './binaries.js';
import { EmbeddedDbError } from './errors.js';

export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  /** Started through setpriv with CAP_DAC_READ_SEARCH, to pass directories it cannot search by its mode bits. */
  passThrough?: boolean;
}

const PASS_THROUGH = ['--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];

function setprivArgs(user: ServerUser): string[] {
  return [`--reuid=${user.uid}`, `--regid=${user.gid}`, ...PASS_THROUGH, '--'];
}

let passThroughWorks: boolean | undefined;
/** Whether setpriv exists and the capability may be granted here (a container may drop it from its bounding set). */
function canPassThrough(user: ServerUser): boolean {
  passThroughWorks ??= spawnSync('setpriv', [...setprivArgs(user), 'true'], { stdio: 'ignore' }).status === 0;
  return passThroughWorks;
}

/** How to run `command` as the server's user: spawn options (uid/gid), or through setpriv for a pass-through user. */
export function asServerUser(
  user: ServerUser | undefined,
  command: string,
  args: string[],
): { command: string; args: string[]; ids: { uid?: number; gid?: number } } {
  if (!user) return { command, args, ids: {} };
  if (user.passThrough) return { command: 'setpriv', args: [...setprivArgs(user), command, ...args], ids: {} };
  return { command, args, ids: { uid: user.uid, gid: user.gid } };
}

function idOf(name: string, flag: '-u' | '-g'): number | undefined {
  const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** The name of the user with this uid, when it has one. */
export function userName(uid: number): string | undefined {
  const r = spawnSync('id', ['-nu', String(uid)], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

function run(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** The user the server runs as: undefined when Sluice itself is not root (the server runs as Sluice's user). */
export function serverUser(name: string): ServerUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  if (idOf(name, '-u') === undefined) {
    // useradd (most distributions), else BusyBox adduser (Alpine). A system user: no home, no login shell.
    const created =
      run('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ]) ||
      (run('addgroup', ['-S', name]) && run('adduser', ['-S', '-D', '-H', '-G', name, '-s', '/sbin/nologin', name])) ||
      run('adduser', ['-S', '-D', '-H', '-s', '/sbin/nologin', name]);
    if (!created || idOf(name, '-u') === undefined) {
      throw new EmbeddedDbError(
        'EMBEDDED_DB_USER',
        `Sluice runs as root and PostgreSQL refuses to: it needs an unprivileged OS user "${name}" to run as, and creating it ` +
          'failed (no useradd/adduser?). Create that user, name an existing one in SLUICE_EMBEDDED_DB_USER, or run Sluice as an ordinary user',
      );
    }
  }
  const uid = idOf(name, '-u')!;
  if (uid === 0)
    throw new EmbeddedDbError(
      'EMBEDDED_DB_USER',
      `SLUICE_EMBEDDED_DB_USER names "${name}", which is root: PostgreSQL refuses to run as root`,
    );
  return { name, uid, gid: idOf(name, '-g')! };
}

/** Whether `user` may search (x) the directory, judged from its mode bits (the server gets no supplementary groups). */
function canSearch(dir: string, user: ServerUser): boolean {
  const st = statSync(dir);
  const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
  return (st.mode & bit) !== 0;
}

/** The first directory from / down to `target` (exclusive) that `user` cannot pass, or undefined. */
export function blockingAncestor(target: string, user: ServerUser): string | undefined {
  const dirs: string[] = [];
  for (let d = path.dirname(path.resolve(target)); ; d = path.dirname(d)) {
    dirs.unshift(d);
    if (path.dirname(d) === d) break;
  }
  return dirs.find((d) => !canSearch(d, user));
}

/**
 * Binaries the server user can run. Under /root (a global install, or a project in root's home) they are not
 * reachable: the native tree is copied once to a root-owned, world-readable place and used from there.
 */
export function reachableBinaries(bins: PgBinaries, user: ServerUser, copyRoot = '/var/lib/sluice'): PgBinaries {
  // Even where the server passes through to its data dir (setpriv, CAP_DAC_READ_SEARCH): PostgreSQL checks its own
  // binary with access(2), which judges by the real uid without that capability, and initdb refuses to run.
  if (!blockingAncestor(bins.postgres, user)) return bins;
  const home = path.join(copyRoot, `postgres-${bins.version}`);
  const native = path.join(home, 'native');
  if (!existsSync(path.join(native, 'bin', path.basename(bins.postgres)))) {
    mkdirSync(copyRoot, { recursive: true, mode: 0o755 });
    chmodSync(copyRoot, 0o755);
    const staging = `${home}.copy-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(bins.native, path.join(staging, 'native'), { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, home);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process copied it first
    }
  }
  const moved = (p: string) => path.join(native, path.relative(bins.native, p));
  const copy = { ...bins, root: home, native, initdb: moved(bins.initdb), postgres: moved(bins.postgres) };
  const still = blockingAncestor(copy.postgres, user);
  if (still)
    throw new EmbeddedDbError(
      'EMBEDDED_DB_UNREACHABLE',
      `the PostgreSQL binaries copied to ${home} are not reachable by the user "${user.name}": ${still} blocks it`,
    );
  return copy;
}

/** The server user as it can reach the cluster dir: as is, or passing through (setpriv); fails clearly when neither. */
export function reachingUser(clusterDir: string, user: ServerUser): ServerUser {
  const blocked = blockingAncestor(clusterDir, user);
  if (!blocked) return user;
  if (canPassThrough(user)) return { ...user, passThrough: true };
  throw new EmbeddedDbError(
    'EMBEDDED_DB_UNREACHABLE',
    `the embedded PostgreSQL server runs as the user "${user.name}" (Sluice runs as root and PostgreSQL refuses root), and ` +
      `that user cannot reach ${clusterDir}: the directory ${blocked} does not let it pass (no search permission). ` +
      'and setpriv (util-linux) with CAP_DAC_READ_SEARCH is not available to let it through. ' +
      'Either put the data dir elsewhere (SLUICE_DATA_DIR, e.g. /var/lib/sluice/data), or run Sluice as an ordinary user',
  );
}
