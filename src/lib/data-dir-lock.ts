// One `sluice start` per embedded data dir. The PostgreSQL server itself takes any number of clients, but the
// process holding this lock is known to be the only worker on the dir, so claims left by a crash are its to
// free at start (main.ts); a CLI command that finds no server opens the dir under the same lock. The lock
// file also tells a CLI command where the running server listens and which local token it accepts, so the
// command can go through the server's API. The file is 0600: whoever can read it can read the database's
// password file anyway.
//
// Taking the lock is atomic, also over a stale lock (its holder killed): the file is created whole with link(2),
// which fails when a lock exists, so nobody ever reads a half-written lock; and a stale lock is removed only by
// the one process that created the takeover marker named after that lock's exact content (O_EXCL), after
// checking that the file still holds that content. Any number of `sluice start` at the same instant, over a
// stale lock or none, leave exactly one holder (src/lib/data-dir-lock.test.ts races them).
import { createHash, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from './process-alive.js';

export interface LockInfo {
  pid: number;
  startedAt: string;
  /** Set once the HTTP server listens. */
  url?: string;
  /** A per-run admin token for local CLI commands; only its holder can read this file. */
  cliToken?: string;
  /** Makes each lock's content unique, even for the same process taking it again within a millisecond. */
  nonce?: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
    message?: string,
  ) {
    super(
      message ??
        `the data dir ${dataDir} is in use by another sluice process (pid ${holder.pid}` +
          // Commands that can go through a server's HTTP API already do; one that still gets here needs the dir.
          (holder.url
            ? `, serving ${holder.url}); this command needs the data dir to itself: stop that process first`
            : '); stop it first, or run this command once it serves HTTP'),
    );
    this.name = 'DataDirLockedError';
  }
}

export function lockFilePath(dataDir: string): string {
  return path.join(dataDir, 'sluice.lock');
}

function parse(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info?.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether the lock with this content is held by a live process other than this one. */
function liveHolder(text: string): LockInfo | undefined {
  const info = parse(text);
  return info && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
}

/** The live holder of the lock, or undefined when the dir is free (no file, or its process is gone). */
export function readDataDirLock(dataDir: string): LockInfo | undefined {
  const text = readText(lockFilePath(dataDir));
  return text === undefined ? undefined : liveHolder(text);
}

export interface DataDirLock {
  update(extra: Partial<LockInfo>): void;
  release(): void;
}

/** A temporary file beside the lock with this content, for link(2) or rename(2) to put in place whole. */
function staged(file: string, info: LockInfo): string {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, JSON.stringify(info), { mode: 0o600, flag: 'wx' });
  return tmp;
}

/** Creates the lock file whole; false when one exists. */
function create(file: string, info: LockInfo): boolean {
  const tmp = staged(file, info);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** A takeover marker left by a process that died during its takeover (a window of microseconds) would stop
 *  every later start; one whose process is gone and that is this old is removed. */
const ABANDONED_MARKER_MS = 2_000;

/**
 * Removes the stale lock whose content is `text`, unless another process is already doing so or the file no
 * longer holds it. Only the process that creates the marker named after this content may remove the file, and
 * it does so only after seeing the file still hold this content: a lock made meanwhile by another process is
 * never removed in its place.
 */
function removeStale(file: string, text: string): void {
  const marker = `${file}.takeover-${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
  let fd: number;
  try {
    fd = openSync(marker, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is taking this lock over; unless it died doing so, the caller simply tries again.
    const owner = parse(readText(marker) ?? '');
    const age = Date.now() - (statMs(marker) ?? Date.now());
    if (owner && !isAlive(owner.pid) && age > ABANDONED_MARKER_MS) unlinkQuietly(marker);
    return;
  }
  try {
    writeFileSync(fd, JSON.stringify({ pid: process.pid }));
    closeSync(fd);
    if (readText(file) === text) unlinkQuietly(file);
  } finally {
    unlinkQuietly(marker);
  }
}

function statMs(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = lockFilePath(dataDir);
  let info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), nonce: randomUUID() };
  for (let attempt = 0; ; attempt++) {
    if (create(file, info)) break;
    const text = readText(file);
    if (text === undefined) continue; // released meanwhile
    const holder = liveHolder(text);
    if (holder) throw new DataDirLockedError(dataDir, holder);
    if (attempt >= 500) throw new Error(`could not take over the stale lock ${file}: remove it if no sluice process uses ${dataDir}`);
    // The previous holder died without releasing (kill -9, power loss): the lock is stale, take it over.
    removeStale(file, text);
    if (attempt > 0) Atomics.wait(pause, 0, 0, 2); // another process is mid-takeover: let it finish
  }
  let released = false;
  return {
    update(extra) {
      info = { ...info, ...extra };
      renameSync(staged(file, info), file);
    },
    release() {
      if (released) return;
      released = true;
      if (parse(readText(file) ?? '')?.nonce === info.nonce) unlinkQuietly(file);
    },
  };
}
