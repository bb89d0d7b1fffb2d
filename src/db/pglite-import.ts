// Carries a PGlite data dir (the embedded database of releases before the embedded PostgreSQL) over into a
// PostgreSQL database that already has our schema. One transaction on the target: either every row arrives,
// checked by count, or the target is left exactly as it was. The source is only read (after being brought to
// the same migration as the target), so a failed import can simply be run again.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { loadMigrations, migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import type { Db, Queryable } from './port.js';

export class PgliteImportError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, 409);
  }
}

/** Tables whose rows mean "this database is in use": an import never lands on top of them. */
const IN_USE_TABLES = ['workspaces', 'events'];
const BOOKKEEPING_TABLE = 'schema_migrations';
// Batches are sized by bytes so memory stays bounded whether a table holds 100-byte rows or 1 MB event bodies.
const BATCH_BYTES = 8 * 1024 * 1024;
const MAX_BATCH_ROWS = 2000;
const FIRST_BATCH_ROWS = 100;

interface Column {
  name: string;
  /** format_type() of the column on the target: the cast applied to its text form. */
  type: string;
}

interface Table {
  name: string;
  columns: Column[];
  /** Primary key columns in key order: the keyset the source is paged by. */
  key: Column[];
}

/** The schema our tables live in on either side: `public` in PGlite, the search_path's first on the target. */
const HERE = '(SELECT oid FROM pg_namespace WHERE nspname = current_schema())';

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

// The PostgreSQL major of the bundled PGlite (0.5.x): the only data dirs it can open.
const PGLITE_MAJOR = '18';

/** Whether the dir's postmaster.pid is the one PGlite writes: a standalone backend's negative pid and PGlite's
 *  virtual data dir path, never a server's. */
function leftByPglite(dir: string): boolean {
  try {
    const [pid, dataDir] = readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n');
    return /^-\d+$/.test(pid?.trim() ?? '') && dataDir?.trim() === '/pglite/data';
  } catch {
    return false;
  }
}

/** A PGlite data dir is a PostgreSQL cluster layout that no postmaster ever ran; anything else is refused untouched. */
export function checkPgliteDataDir(dir: string): void {
  if (!existsSync(dir)) throw new PgliteImportError('IMPORT_SOURCE_MISSING', `there is no PGlite data dir at ${dir}`);
  if (!statSync(dir).isDirectory()) throw new PgliteImportError('IMPORT_SOURCE_INVALID', `${dir} is not a directory`);
  const versionFile = path.join(dir, 'PG_VERSION');
  if (!existsSync(versionFile) || !existsSync(path.join(dir, 'global', 'pg_control'))) {
    throw new PgliteImportError('IMPORT_SOURCE_INVALID', `${dir} is not a PGlite data dir (no PG_VERSION or global/pg_control)`);
  }
  // A postmaster writes postmaster.opts when it starts; PGlite never does. Opening a server's cluster in
  // PGlite could damage it, so it is not tried. PGlite does write a postmaster.pid while the dir is open, and
  // leaves it behind when its process is killed (kill -9, a crash, a power cut): that one is no server's.
  if (existsSync(path.join(dir, 'postmaster.opts')) || (existsSync(path.join(dir, 'postmaster.pid')) && !leftByPglite(dir))) {
    throw new PgliteImportError(
      'IMPORT_SOURCE_INVALID',
      `${dir} is the data dir of a PostgreSQL server, not of PGlite; move such a database with pg_dump and pg_restore`,
    );
  }
  const major = readFileSync(versionFile, 'utf8').trim();
  if (major !== PGLITE_MAJOR) {
    throw new PgliteImportError(
      'IMPORT_SOURCE_INVALID',
      `${dir} was written by PostgreSQL ${major}, but the bundled PGlite reads PostgreSQL ${PGLITE_MAJOR} data dirs only`,
    );
  }
}

async function columnsOf(db: Queryable): Promise<Map<string, Column[]>> {
  // Generated columns are computed by the target itself; partitions are reached through their parent.
  const { rows } = await db.query<{ table: string; column: string; type: string }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relnamespace = ${HERE} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND c.relname <> $1
      ORDER BY c.relname, a.attnum`,
    [BOOKKEEPING_TABLE],
  );
  const tables = new Map<string, Column[]>();
  for (const r of rows) {
    const list = tables.get(r.table) ?? [];
    list.push({ name: r.column, type: r.type });
    tables.set(r.table, list);
  }
  return tables;
}

async function primaryKeys(db: Queryable): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ table: string; column: string }>(
    `SELECT c.relname AS table, a.attname AS column
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE i.indisprimary AND c.relnamespace = ${HERE}
      ORDER BY c.relname, k.ord`,
  );
  const keys = new Map<string, string[]>();
  for (const r of rows) keys.set(r.table, [...(keys.get(r.table) ?? []), r.column]);
  return keys;
}

async function sequencesOf(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relnamespace = ${HERE} AND relkind = 'S' ORDER BY relname`,
  );
  return rows.map((r) => r.name);
}

/**
 * Parents before children, so every foreign key is satisfied as rows arrive. This works for any role (unlike
 * session_replication_role, which needs a superuser that an external DATABASE_URL may not be); a cycle of
 * foreign keys, which our schema does not have, is refused rather than half-handled.
 */
async function insertOrder(db: Queryable, tables: string[]): Promise<string[]> {
  const { rows } = await db.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
      WHERE k.contype = 'f' AND c.relnamespace = ${HERE}`,
  );
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const r of rows) {
    if (r.child === r.parent) {
      throw new PgliteImportError('IMPORT_UNSUPPORTED_SCHEMA', `table ${r.child} references itself; the importer cannot order its rows`);
    }
    parents.get(r.child)?.add(r.parent);
  }
  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < tables.length) {
    const ready = tables.filter((t) => !placed.has(t) && [...parents.get(t)!].every((p) => placed.has(p) || !parents.has(p)));
    if (ready.length === 0) {
      const left = tables.filter((t) => !placed.has(t));
      throw new PgliteImportError('IMPORT_UNSUPPORTED_SCHEMA', `the foreign keys of ${left.join(', ')} form a cycle`);
    }
    for (const t of ready) {
      order.push(t);
      placed.add(t);
    }
  }
  return order;
}

async function migrationVersions(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>(`SELECT version FROM ${BOOKKEEPING_TABLE} ORDER BY version`);
  return rows.map((r) => r.version);
}

async function hasTable(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = ${HERE} AND relname = $1) AS found`,
    [name],
  );
  return rows[0]!.found;
}

/** Brings the source to our latest migration and checks both sides are at the same one. */
async function alignSchemas(source: Db, target: Db): Promise<void> {
  if (!(await hasTable(source, BOOKKEEPING_TABLE))) {
    throw new PgliteImportError('IMPORT_SOURCE_INVALID', 'the PGlite data dir holds no Sluice database (no schema_migrations table)');
  }
  const known = new Set(loadMigrations().map((m) => m.version));
  const newer = (await migrationVersions(source)).filter((v) => !known.has(v));
  if (newer.length > 0) {
    throw new PgliteImportError(
      'IMPORT_SOURCE_NEWER',
      `the PGlite data dir was written by a newer Sluice (migration ${newer.join(', ')} unknown here); import it with that version or later`,
    );
  }
  await migrate(source);
  const [from, to] = [await migrationVersions(source), await migrationVersions(target)];
  if (from.join(',') !== to.join(',')) {
    throw new PgliteImportError(
      'IMPORT_SCHEMA_MISMATCH',
      `the target database is at migrations [${to.join(', ')}] but the PGlite data dir at [${from.join(', ')}]; run \`sluice migrate\` on the target first`,
    );
  }
}

/** The tables to copy, described from the source and checked against the target column by column. */
async function describeTables(source: Db, target: Db): Promise<Table[]> {
  const [sourceCols, targetCols, keys] = [await columnsOf(source), await columnsOf(target), await primaryKeys(source)];
  const tables: Table[] = [];
  for (const [name, cols] of sourceCols) {
    const onTarget = targetCols.get(name);
    if (!onTarget)
      throw new PgliteImportError('IMPORT_SCHEMA_MISMATCH', `table ${name} of the PGlite data dir does not exist on the target`);
    const byName = new Map(onTarget.map((c) => [c.name, c]));
    const columns = cols.map((c) => {
      const t = byName.get(c.name);
      if (!t || t.type !== c.type) {
        throw new PgliteImportError(
          'IMPORT_SCHEMA_MISMATCH',
          `column ${name}.${c.name} (${c.type}) ${t ? `is ${t.type} on the target` : 'does not exist on the target'}`,
        );
      }
      return t;
    });
    const keyNames = keys.get(name);
    // Keyset paging needs a unique order; every table of our schema has a primary key.
    if (!keyNames) throw new PgliteImportError('IMPORT_UNSUPPORTED_SCHEMA', `table ${name} has no primary key to page by`);
    tables.push({ name, columns, key: keyNames.map((k) => columns.find((c) => c.name === k)!) });
  }
  return tables;
}

async function refuseIfInUse(db: Queryable): Promise<void> {
  for (const t of IN_USE_TABLES) {
    const { rows } = await db.query<{ used: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${ident(t)}) AS used`);
    if (rows[0]!.used) {
      throw new PgliteImportError(
        'IMPORT_TARGET_NOT_EMPTY',
        `the target database already holds data (rows in ${t}); the import only goes into a database without workspaces or events, so nothing is ever imported twice or mixed`,
      );
    }
  }
}

async function countRows(db: Queryable, table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${ident(table)}`);
  return Number(rows[0]!.n);
}

/**
 * Copies one table, a batch at a time. Every value travels in its text form and is cast back to the column's
 * type on the target: PostgreSQL's text I/O is exact for every type (bytea as hex, timestamptz with its offset
 * and microseconds, numeric digit for digit, jsonb re-parsed to the same value), and the driver's own type
 * parsing (int8 to number, timestamps to Date) never touches the data.
 */
async function copyTable(source: Db, tx: Queryable, table: Table, onBatch: (rowsSoFar: number) => void): Promise<number> {
  const cols = table.columns;
  const selectList = cols.map((c, i) => `${ident(c.name)}::text AS c${i}`).join(', ');
  const keyList = table.key.map((k) => ident(k.name)).join(', ');
  const keyIndexes = table.key.map((k) => cols.indexOf(k));
  const after = `(${keyList}) > (${table.key.map((k, i) => `$${i + 1}::${k.type}`).join(', ')})`;
  const limitParam = `$${table.key.length + 1}`;
  const firstPage = `SELECT ${selectList} FROM ${ident(table.name)} ORDER BY ${keyList} LIMIT $1`;
  const nextPage = `SELECT ${selectList} FROM ${ident(table.name)} WHERE ${after} ORDER BY ${keyList} LIMIT ${limitParam}`;
  const insert =
    // OVERRIDING SYSTEM VALUE: GENERATED ALWAYS identity columns keep the source's values too.
    `INSERT INTO ${ident(table.name)} (${cols.map((c) => ident(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE ` +
    `SELECT ${cols.map((c, i) => `u.c${i}::${c.type}`).join(', ')} ` +
    `FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${cols.map((_, i) => `c${i}`).join(', ')})`;

  let lastKey: (string | null)[] | undefined;
  let limit = FIRST_BATCH_ROWS;
  let copied = 0;
  // The next page is read from PGlite (in this process) while the server inserts the previous one: at most
  // two batches in memory.
  let writing: Promise<unknown> | undefined;
  const write = (arrays: (string | null)[][], count: number) => {
    const done = tx.query(insert, arrays).then(() => {
      copied += count;
      onBatch(copied);
    });
    done.catch(() => {}); // awaited below; this only keeps a failure from counting as unhandled meanwhile
    return done;
  };
  for (;;) {
    const { rows } = await source.query<Record<string, string | null>>(
      lastKey ? nextPage : firstPage,
      lastKey ? [...lastKey, limit] : [limit],
    );
    if (writing) await writing;
    writing = undefined;
    if (rows.length === 0) break;
    const arrays: (string | null)[][] = cols.map(() => new Array<string | null>(rows.length));
    let bytes = 0;
    rows.forEach((row, r) => {
      for (let i = 0; i < cols.length; i++) {
        const v = row[`c${i}`] ?? null;
        arrays[i]![r] = v;
        if (v !== null) bytes += v.length;
      }
    });
    writing = write(arrays, rows.length);
    const last = rows[rows.length - 1]!;
    lastKey = keyIndexes.map((i) => last[`c${i}`] ?? null);
    if (rows.length < limit) break;
    const perRow = Math.max(1, bytes / rows.length);
    limit = Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(BATCH_BYTES / perRow)));
  }
  if (writing) await writing;
  return copied;
}

/**
 * Copies every table of a Sluice PGlite data dir into `target` (already migrated, PostgreSQL). Refuses a
 * target that holds workspaces or events; anything else a target can hold before its first workspace (the
 * admin token hash a first start wrote) is replaced by the source's rows, so the old admin token keeps working.
 */
export async function importPgliteDataDir(
  pgliteDir: string,
  target: Db,
  onProgress?: (p: { table: string; rows: number }) => void,
): Promise<{ tables: number; rows: number }> {
  if (target.kind === 'pglite') {
    throw new PgliteImportError('IMPORT_TARGET_INVALID', 'the import target must be a PostgreSQL database, not another PGlite one');
  }
  checkPgliteDataDir(pgliteDir);
  // Checked again under lock in the transaction; this early look refuses before the source is even opened.
  await refuseIfInUse(target);
  const source = await openPglite(pgliteDir);
  try {
    // The text forms compared and copied must not depend on either side's session settings.
    await source.exec(`SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET extra_float_digits = 1`);
    // A PGlite dir has no planner statistics, so a page query would be a sequential scan plus a sort of the
    // whole remainder, text casts included, for every page: quadratic. Paging must walk the primary key index.
    await source.exec(`SET enable_seqscan = off; SET enable_sort = off`);
    await alignSchemas(source, target);
    const tables = await describeTables(source, target);
    const order = await insertOrder(
      target,
      tables.map((t) => t.name),
    );
    const byName = new Map(tables.map((t) => [t.name, t]));
    const sequences = await sequencesOf(source);
    const targetSequences = new Set(await sequencesOf(target));
    for (const s of sequences) {
      if (!targetSequences.has(s)) throw new PgliteImportError('IMPORT_SCHEMA_MISMATCH', `sequence ${s} does not exist on the target`);
    }

    return await target.transaction(async (tx) => {
      // A large table may take longer than the pool's per-statement limit; a server still using the target
      // makes the lock wait, and a short lock_timeout turns that into a clear refusal instead of a hang.
      await tx.exec(`SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '5s'`);
      try {
        // Writes by anyone else wait until this transaction ends, so the emptiness check below stays true.
        await tx.exec(`LOCK TABLE ${order.map(ident).join(', ')} IN EXCLUSIVE MODE`);
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03') throw err;
        throw new PgliteImportError(
          'IMPORT_TARGET_BUSY',
          'the target database is in use (a running sluice server or worker holds its tables); stop it and run the import again',
        );
      }
      await refuseIfInUse(tx);
      for (const name of [...order].reverse()) await tx.query(`DELETE FROM ${ident(name)}`);

      let total = 0;
      const expected = new Map<string, number>();
      for (const name of order) {
        onProgress?.({ table: name, rows: 0 });
        const copied = await copyTable(source, tx, byName.get(name)!, (rows) => onProgress?.({ table: name, rows }));
        expected.set(name, await countRows(source, name));
        total += copied;
      }
      for (const name of order) {
        const [want, got] = [expected.get(name)!, await countRows(tx, name)];
        if (want !== got) {
          throw new PgliteImportError(
            'IMPORT_COUNT_MISMATCH',
            `table ${name}: ${want} rows in the PGlite data dir, ${got} on the target; nothing was imported`,
          );
        }
      }
      // Counters continue where the source's stopped, so rows created from now on never reuse a value.
      for (const s of sequences) {
        const { rows } = await source.query<{ last: string; called: boolean }>(
          `SELECT last_value::text AS last, is_called AS called FROM ${ident(s)}`,
        );
        await tx.query('SELECT setval($1::regclass, $2::bigint, $3)', [ident(s), rows[0]!.last, rows[0]!.called]);
      }
      return { tables: order.length, rows: total };
    });
  } finally {
    await source.close();
  }
}
