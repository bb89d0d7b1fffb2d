import type { Queryable } from '../port.js';

export async function getSetting(db: Queryable, key: string): Promise<string | undefined> {
  const { rows } = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
  return rows[0]?.value;
}

/** Inserts unless the key exists; returns true when this call wrote it (first writer wins across instances). */
export async function insertSettingIfAbsent(db: Queryable, key: string, value: string): Promise<boolean> {
  const { rowCount } = await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
  return rowCount === 1;
}
