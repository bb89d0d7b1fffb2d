// One `sluice start` per embedded data dir. The PostgreSQL server itself takes any number of clients, but the
// process holding this lock is known to be the only worker on the dir, so claims left by a crash are its to
// free at start (main.ts); a CLI command that finds no server opens the dir under the same lock. The lock
// file also tells a CLI command where the running server listens and which local token it accepts, so the
// command can go through the server's API. The file is 0600: whoever can read it can read the database's
// password file anyway.
//
// Taking the lock is atomic, also over a stale lock (its holder killed): the file is created whole with link(2),
// which fails when a lock exists, so nobody ever reads a half-written lock; and a stale lock is removed only by
// the one process that created a takeover marker named after that lock's exact content (created whole the same
// way), after checking that the file still holds that content. A marker left by a process killed mid-takeover is
// passed over, never removed by name while others may be racing (its next generation is used instead), and
// swept once the lock is taken; a marker whose taker is alive is only ever removed by that taker. Any number of
// `sluice start` at the same instant, over a stale lock or none, leave exactly one holder, even were the same stale
// bytes to come back (src/lib/data-dir-lock.test.ts races them, over stale locks and leftover markers).
import { createHash, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, processStartedAt } from './process-alive.js';

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
    // No file there, or no directory to hold one (a path above it is a file): no lock. Taking one then fails with
    // the reason, named for the operator where the data dir is opened (db/open-store.ts).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Whether the lock with this content is held by a live process other than this one. */
function liveHolder(text: string): LockInfo | undefined {
  const info = parse(text);
  if (!info || info.pid === process.pid || !isAlive(info.pid)) return undefined;
  // After a kill -9 and a reboot (or a container restart) the pid may belong to anyone by now: a process that
  // started after the lock was taken did not take it. A few seconds of slack for the clocks' granularity.
  const started = processStartedAt(info.pid);
  const locked = Date.parse(info.startedAt);
  if (started !== undefined && Number.isFinite(locked) && started > locked + 5_000) return undefined;
  return info;
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

/** A takeover marker whose owner is gone (it died during its takeover, a window of microseconds), or unreadable
 *  and this old, is abandoned: it is never removed by name (by then the name may be a live taker's), the next
 *  generation of the marker takes its place. */
const ABANDONED_MARKER_MS = 2_000;
const MARKER_GENERATIONS = 16;

/**
 * Removes the stale lock whose content is `text`, unless another process is already doing so or the file no
 * longer holds it. Only the process that creates a marker named after this content may remove the file, and
 * it does so only after seeing the file still hold this content: a lock made meanwhile by another process is
 * never removed in its place.
 */
function removeStale(file: string, text: string): void {
  const base = `${file}.takeover-${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
  for (let generation = 0; generation < MARKER_GENERATIONS; generation++) {
    const marker = generation === 0 ? base : `${base}.${generation}`;
    // Created whole, like the lock: a marker is never seen empty.
    if (create(marker, { pid: process.pid, startedAt: new Date().toISOString(), nonce: randomUUID() })) {
      try {
        if (readText(file) === text) unlinkQuietly(file);
      } finally {
        unlinkQuietly(marker);
      }
      return;
    }
    const markerText = readText(marker);
    if (markerText === undefined) return; // its taker just finished: the caller looks again
    if (!abandoned(marker, markerText)) return; // another process is taking this lock over: the caller waits and looks again
  }
}

/** Whether the marker with this content was left by a taker that is gone. */
function abandoned(marker: string, markerText: string): boolean {
  const owner = parse(markerText);
  return owner ? owner.pid === process.pid || !isAlive(owner.pid) : Date.now() - (statMs(marker) ?? 0) > ABANDONED_MARKER_MS;
}

/** Abandoned markers of contents the lock no longer holds, and staging files of processes gone. A marker whose
 *  taker is alive is left to that taker: were its content to come back, removing the marker under it would let a
 *  second taker in. */
function sweep(dir: string, file: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const text = readText(file);
  const current = text === undefined ? undefined : createHash('sha256').update(text).digest('hex').slice(0, 32);
  const prefix = `${path.basename(file)}.`;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const takeover = /^takeover-([0-9a-f]{32})(\.\d+)?$/.exec(name.slice(prefix.length));
    const staging = /^(?:takeover-[0-9a-f]{32}(?:\.\d+)?\.)?(\d+)\.[0-9a-f-]{36}\.tmp$/.exec(name.slice(prefix.length));
    const entry = path.join(dir, name);
    if (takeover && takeover[1] !== current) {
      const markerText = readText(entry);
      if (markerText !== undefined && abandoned(entry, markerText)) unlinkQuietly(entry);
    } else if (staging && Number(staging[1]) !== process.pid && !isAlive(Number(staging[1]))) {
      unlinkQuietly(entry);
    }
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
  const deadline = Date.now() + 3 * ABANDONED_MARKER_MS;
  for (let attempt = 0; ; attempt++) {
    if (create(file, info)) break;
    const text = readText(file);
    if (text === undefined) continue; // released meanwhile
    const holder = liveHolder(text);
    if (holder) throw new DataDirLockedError(dataDir, holder);
    if (Date.now() > deadline) {
      throw new DataDirLockedError(
        dataDir,
        parse(text) ?? { pid: 0, startedAt: '' },
        `could not take over the stale lock ${file} (its process is gone, but others kept taking it over): ` +
          `remove the file if no sluice process uses ${dataDir}`,
      );
    }
    // The previous holder died without releasing (kill -9, power loss): the lock is stale, take it over.
    removeStale(file, text);
    if (attempt > 0) Atomics.wait(pause, 0, 0, 2); // another process is mid-takeover: let it finish
  }
  sweep(dataDir, file);
  let released = false;
  return {
    update(extra) {
      info = { ...info, ...extra };
      renameSync(staged(file, info), file);
    },
    release() {
      if (released) return;
      released = true;
      // On the way out, often after another error: a lock that cannot be removed is stale at the next start anyway.
      try {
        if (parse(readText(file) ?? '')?.nonce === info.nonce) unlinkQuietly(file);
      } catch {
        // left for the next start to take over
      }
    },
  };
}
