// Placeholder with the agreed signature; the real import (PGlite data dir → PostgreSQL) lands from its own
// branch and replaces this file.
import type { Db } from './port.js';

export async function importPgliteDataDir(
  _pgliteDir: string,
  _target: Db,
  _onProgress?: (p: { table: string; rows: number }) => void,
): Promise<{ tables: number; rows: number }> {
  throw new Error('not implemented');
}
