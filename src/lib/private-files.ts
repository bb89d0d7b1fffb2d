// The data dir holds the whole database and, unless SLUICE_SECRET_KEY is set, the master key: nobody but its
// owner may read any of it. A pass at start repairs files left readable by an older version or a copy (cp,
// tar) made with a loose umask. The embedded PostgreSQL cluster keeps its own modes (0700/0600, checked by
// the server itself) and is skipped; when Sluice runs as root, the server's own user must be able to pass
// through the data dir to reach it, so the top dir may keep search (x) bits, never read bits.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

const GROUP_OTHER = 0o077;

/** Creates the dir 0700 if missing, then strips group/other bits from it and everything under it.
 *  Returns the paths that had to be fixed (empty when the dir was already private). */
export function ensurePrivateDir(dir: string, opts: { skip?: string[]; searchable?: boolean } = {}): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fixed: string[] = [];
  const skip = new Set((opts.skip ?? []).map((name) => path.join(dir, name)));
  const walk = (p: string) => {
    if (skip.has(p)) return;
    let st;
    try {
      st = lstatSync(p);
    } catch (err) {
      // A file the database removed between readdir and lstat (WAL recycling) needs no fixing.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    // A symlink's own mode means nothing and chmod would follow it out of the dir.
    if (st.isSymbolicLink()) return;
    const allowed = opts.searchable && p === dir ? 0o011 : 0;
    if ((st.mode & GROUP_OTHER & ~allowed) !== 0) {
      chmodSync(p, st.mode & (0o7700 | allowed));
      fixed.push(p);
    }
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      for (const name of names) walk(path.join(p, name));
    }
  };
  walk(dir);
  return fixed;
}

let holders = 0;
let previousUmask: number | undefined;

/** Makes every file this process creates private until the returned function is called. Reference-counted:
 *  several embedded databases may be open at once (tests), and the umask is restored after the last. */
export function holdPrivateUmask(): () => void {
  if (holders === 0) {
    try {
      // Set-and-read in one call: the read-only form process.umask() is deprecated.
      previousUmask = process.umask(GROUP_OTHER);
      process.umask(previousUmask | GROUP_OTHER);
    } catch {
      // Worker threads cannot change the umask; the chmod pass at start still applies.
      previousUmask = undefined;
    }
  }
  holders += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders -= 1;
    if (holders === 0 && previousUmask !== undefined) process.umask(previousUmask);
  };
}
