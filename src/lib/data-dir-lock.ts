// One `sluice start` per embedded data dir. The PostgreSQL server itself takes any number of clients, but the
// process holding this lock is known to be the only worker on the dir, so claims left by a crash are its to
// free at start (main.ts); a CLI command that finds no server opens the dir under the same lock. The lock
// file also tells a CLI command where the running server listens and which local token it accepts, so the
// command can go through the server's API. The file is 0600: whoever can read it can read the database's
// password file anyway.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from './process-alive.js';

export interface LockInfo {
  pid: number;
  startedAt: string;
  /** Set once the HTTP server listens. */
  url?: string;
  /** A per-run admin token for local CLI commands; only its holder can read this file. */
  cliToken?: string;
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

/** The live holder of the lock, or undefined when the dir is free (no file, or its process is gone). */
export function readDataDirLock(dataDir: string): LockInfo | undefined {
  let info: LockInfo;
  try {
    info = JSON.parse(readFileSync(lockFilePath(dataDir), 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
  if (typeof info.pid !== 'number' || info.pid === process.pid || !isAlive(info.pid)) return undefined;
  return info;
}

export interface DataDirLock {
  update(extra: Partial<LockInfo>): void;
  release(): void;
}

export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = lockFilePath(dataDir);
  let info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  const write = (flag: 'wx' | 'w') => writeFileSync(file, JSON.stringify(info), { mode: 0o600, flag });
  try {
    write('wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = readDataDirLock(dataDir);
    if (holder) throw new DataDirLockedError(dataDir, holder);
    // The previous holder died without releasing (kill -9, power loss): the lock is stale, take it over.
    unlinkSync(file);
    write('wx');
  }
  let released = false;
  return {
    update(extra) {
      info = { ...info, ...extra };
      write('w');
    },
    release() {
      if (released) return;
      released = true;
      try {
        const current = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
        if (current.pid === process.pid) unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}
