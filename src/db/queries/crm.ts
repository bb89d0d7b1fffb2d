// Generic, order-safe writes to the CRM tables (see migrations/0002_crm.sql for the rule). Table and
// column names come from code, never from input; values are always parameters.
import type { Queryable } from '../port.js';

export type CrmTable = 'customers' | 'products' | 'prices' | 'subscriptions' | 'invoices' | 'payments' | 'checkout_sessions' | 'access';

export type CrmRow = Record<string, unknown> & { id: string; deleted: boolean; stub: boolean };

export interface ObjectKey {
  workspaceId: string;
  provider: string;
  providerId: string;
}

/** The version of the event writing a row; compared as the tuple (ts, rank, eventId). */
export interface Version {
  ts: Date;
  /** Settles same-second ties without depending on arrival order (e.g. a terminal status ranks highest). */
  rank: number;
  eventId: string;
  deleted: boolean;
  /** Write even if not newer (the provider's API just confirmed the state); a tombstone still wins. */
  force?: boolean;
  /**
   * With `force`: a write that is not newer than the row keeps the row's version. It changes the fields it writes
   * but not the row's place in the order (an event that cannot be dated says nothing of which fact is newer).
   */
  keepVersion?: boolean;
  /**
   * The provider can create a deleted object again under the same id (Stripe products and plans take ids the
   * account chooses): an event newer than the delete is about the new object and writes over the tombstone. An
   * event of the deleted object is older than its delete (or ties it and ranks below it), so it still cannot.
   */
  resurrects?: boolean;
}

export interface UpsertResult {
  old: CrmRow | undefined;
  row: CrmRow;
  applied: boolean;
}

function param(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v;
}

async function selectForUpdate(db: Queryable, table: CrmTable, key: ObjectKey): Promise<CrmRow | undefined> {
  const { rows } = await db.query<CrmRow>(
    `SELECT * FROM ${table} WHERE workspace_id = $1 AND provider = $2 AND provider_id = $3 FOR UPDATE`,
    [key.workspaceId, key.provider, key.providerId],
  );
  return rows[0];
}

/** The row was last written by another event of the same second, and this write could change it. */
export function isTie(old: CrmRow, v: Version): boolean {
  if (old.stub || old.source_ts == null || old.deleted || v.deleted) return false;
  return (old.source_ts as Date).getTime() === v.ts.getTime() && String(old.source_event_id ?? '') !== v.eventId;
}

/**
 * Settles a same-second tie: the values to write (the object as the provider has it now, fetched through its
 * API), or undefined to fall back on the rank rule. It may throw to ask for the object to be fetched first.
 */
export type TieResolver = (old: CrmRow) => { values: Record<string, unknown>; deleted: boolean } | undefined;

export function isNewer(old: CrmRow, v: Version): boolean {
  if (old.stub || old.source_ts == null) return true;
  if (old.deleted && !v.deleted && v.resurrects !== true) return false; // tombstone: nothing but a delete touches it
  const oldTs = (old.source_ts as Date).getTime();
  const ts = v.ts.getTime();
  if (ts !== oldTs) return ts > oldTs;
  const oldRank = Number(old.source_rank);
  if (v.rank !== oldRank) return v.rank > oldRank;
  return v.eventId > String(old.source_event_id ?? '');
}

/**
 * One round trip for the usual cases: the object's row locked (it exists), or inserted with `values` (it does
 * not). Neither when another transaction inserted it between the look and the insert: the caller looks again.
 */
async function lockOrInsert(
  db: Queryable,
  table: CrmTable,
  key: ObjectKey,
  values: Record<string, unknown>,
  newRowId: () => string,
): Promise<{ inserted: true; row: CrmRow } | { inserted: false; row: CrmRow | undefined }> {
  const names = Object.keys(values);
  const { rows } = await db.query<CrmRow & { sluice_inserted: boolean }>(
    `WITH old AS (
       SELECT * FROM ${table} WHERE workspace_id = $2 AND provider = $3 AND provider_id = $4 FOR UPDATE
     ), ins AS (
       INSERT INTO ${table} (id, workspace_id, provider, provider_id, ${names.join(', ')})
       SELECT $1, $2, $3, $4, ${names.map((_, i) => `$${i + 5}`).join(', ')}
       WHERE NOT EXISTS (SELECT 1 FROM old)
       ON CONFLICT (workspace_id, provider, provider_id) DO NOTHING RETURNING *
     )
     SELECT false AS sluice_inserted, * FROM old UNION ALL SELECT true, * FROM ins`,
    [newRowId(), key.workspaceId, key.provider, key.providerId, ...names.map((n) => param(values[n]))],
  );
  const first = rows[0];
  if (!first) return { inserted: false, row: undefined };
  const { sluice_inserted: inserted, ...row } = first;
  return inserted ? { inserted: true, row: row as CrmRow } : { inserted: false, row: row as CrmRow };
}

/** One object write of upsertManyInOneTrip (`values` hold the version's meta columns, as upsertGuarded adds them);
 *  `tiesToCaller`: a same-second tie is left to the caller (it may settle it through the provider's API). */
export interface OneTripWrite {
  key: ObjectKey;
  values: Record<string, unknown>;
  version: Version;
  newRowId: () => string;
  tiesToCaller: boolean;
}

/** The one-trip write upsertGuarded makes first; a batch of events passes one that joins many into a statement. */
export type OneTrip = (table: CrmTable, write: OneTripWrite) => Promise<UpsertResult | undefined>;

/**
 * upsertGuarded's first statement, for values that do not depend on the row they replace, for one object or many
 * of one table: each object's row is locked, inserted when missing, or updated when the version rule lets its event
 * write it (isNewer, in SQL). Most events are about objects already known, and the general path takes two
 * statements for those. The answers come in the order of `writes`; undefined, with nothing written, when
 * JavaScript must decide: a same-second tie when `tiesToCaller`, or a row another transaction inserted between the
 * look and the insert. Writes that name the same columns and treat ties alike share a statement; an object written
 * twice waits for the next one, so each statement sees the rows the one before it wrote.
 *
 * The rows travel as one jsonb array read back into rows of the table's own type (jsonb_populate_recordset, as in
 * ensureStubs): the statement's text does not depend on the number of rows. Rows are locked in id order and
 * inserted in key order, so two batches writing the same objects take them in the same order.
 */
export async function upsertManyInOneTrip(
  db: Queryable,
  table: CrmTable,
  writes: readonly OneTripWrite[],
): Promise<(UpsertResult | undefined)[]> {
  const answers: (UpsertResult | undefined)[] = new Array(writes.length);
  // Statements to run, in order: each a set of writes with one signature and distinct objects.
  const rounds: { signature: string; names: string[]; tiesToCaller: boolean; resurrects: boolean; at: number[]; keys: Set<string> }[] = [];
  writes.forEach((w, at) => {
    const names = Object.keys(w.values);
    const resurrects = w.version.resurrects === true;
    const signature = `${w.tiesToCaller}:${resurrects}:${names.join(',')}`;
    const object = `${w.key.workspaceId}\u0000${w.key.provider}\u0000${w.key.providerId}`;
    let round = rounds.find((r) => r.signature === signature && !r.keys.has(object));
    if (!round) rounds.push((round = { signature, names, tiesToCaller: w.tiesToCaller, resurrects, at: [], keys: new Set() }));
    round.at.push(at);
    round.keys.add(object);
  });
  for (const round of rounds) {
    const { names, tiesToCaller, resurrects } = round;
    const rows = round.at.map((at) => {
      const w = writes[at]!;
      return { ...w.values, id: w.newRowId(), workspace_id: w.key.workspaceId, provider: w.key.provider, provider_id: w.key.providerId };
    });
    // isNewer of input row i over the locked row o; i carries the event's version in its meta columns (source_ts,
    // source_rank, source_event_id, deleted). A same-second tie (isTie) is left alone when the caller settles ties.
    // Event ids compare byte by byte (COLLATE "C"), as JavaScript compares the ASCII ids providers use.
    const notTie = tiesToCaller ? `AND (o.deleted OR i.deleted OR COALESCE(o.source_event_id, '') = i.source_event_id)` : '';
    // A tombstone is written only by a delete, unless the version may resurrect the object (Version.resurrects).
    const tombstone = resurrects ? '' : 'NOT (o.deleted AND NOT i.deleted) AND';
    const newer = `(o.stub OR o.source_ts IS NULL OR (${tombstone} (
        o.source_ts < i.source_ts OR (o.source_ts = i.source_ts ${notTie}
          AND (o.source_rank < i.source_rank OR (o.source_rank = i.source_rank
            AND COALESCE(o.source_event_id, '') COLLATE "C" < i.source_event_id))))))`;
    const { rows: out } = await db.query<CrmRow & { sluice_kind: number; sluice_at: string }>(
      `WITH input AS MATERIALIZED (
         SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb) WITH ORDINALITY AS i
       ), old AS (
         SELECT i.ordinality AS sluice_at, t.* FROM input i
         JOIN ${table} t ON t.workspace_id = i.workspace_id AND t.provider = i.provider AND t.provider_id = i.provider_id
         ORDER BY t.id FOR UPDATE OF t
       ), ins AS (
         INSERT INTO ${table} (id, workspace_id, provider, provider_id, ${names.join(', ')})
         SELECT i.id, i.workspace_id, i.provider, i.provider_id, ${names.map((n) => `i.${n}`).join(', ')} FROM input i
         WHERE NOT EXISTS (SELECT 1 FROM old o WHERE o.sluice_at = i.ordinality)
         ORDER BY i.workspace_id, i.provider, i.provider_id
         ON CONFLICT (workspace_id, provider, provider_id) DO NOTHING RETURNING *
       ), upd AS (
         UPDATE ${table} t SET ${names.map((n) => `${n} = s.${n}`).join(', ')}, updated_at = now()
         FROM (SELECT o.id AS sluice_row, i.* FROM old o JOIN input i ON i.ordinality = o.sluice_at WHERE ${newer}) s
         WHERE t.id = s.sluice_row RETURNING s.ordinality AS sluice_at, t.*
       )
       SELECT 0 AS sluice_kind, * FROM old
       UNION ALL SELECT 1, i.ordinality, n.* FROM ins n
         JOIN input i ON i.workspace_id = n.workspace_id AND i.provider = n.provider AND i.provider_id = n.provider_id
       UNION ALL SELECT 2, * FROM upd`,
      [JSON.stringify(rows)],
    );
    const old = new Map<number, CrmRow>();
    const written = new Map<number, { row: CrmRow; inserted: boolean }>();
    for (const { sluice_kind: kind, sluice_at: at, ...row } of out) {
      if (kind === 0) old.set(Number(at), row as CrmRow);
      else written.set(Number(at), { row: row as CrmRow, inserted: kind === 1 });
    }
    round.at.forEach((at, i) => {
      const before = old.get(i + 1);
      const after = written.get(i + 1);
      const w = writes[at]!;
      if (after?.inserted) answers[at] = { old: undefined, row: after.row, applied: true };
      else if (!before) answers[at] = undefined;
      else if (after) answers[at] = { old: before, row: after.row, applied: true };
      else if (tiesToCaller && isTie(before, w.version)) answers[at] = undefined;
      else answers[at] = { old: before, row: before, applied: false };
    });
  }
  return answers;
}

export async function upsertGuarded(
  db: Queryable,
  table: CrmTable,
  key: ObjectKey,
  valuesFor: Record<string, unknown> | ((old: CrmRow | undefined) => Record<string, unknown>),
  version: Version,
  newRowId: () => string,
  resolveTie?: TieResolver,
  oneTrip?: OneTrip,
): Promise<UpsertResult> {
  const compute = typeof valuesFor === 'function' ? valuesFor : () => valuesFor;
  const meta = {
    deleted: version.deleted,
    stub: false,
    source_ts: version.ts,
    source_rank: version.rank,
    source_event_id: version.eventId,
  };
  if (typeof valuesFor !== 'function' && version.force !== true) {
    const values = { ...valuesFor, ...meta };
    const tiesToCaller = resolveTie !== undefined;
    const write = { key, values, version, newRowId, tiesToCaller };
    const done = oneTrip ? await oneTrip(table, write) : (await upsertManyInOneTrip(db, table, [write]))[0];
    if (done) return done;
    // A same-second tie for the resolver, or a row another transaction inserted meanwhile: the general path.
  }
  const first = await lockOrInsert(db, table, key, { ...compute(undefined), ...meta }, newRowId);
  if (first.inserted) return { old: undefined, row: first.row, applied: true };
  // Neither found nor inserted: another transaction inserted it between our look and our insert; take the
  // guarded path on its row.
  const oldRow = first.row ?? (await selectForUpdate(db, table, key))!;
  const settled = resolveTie && isTie(oldRow, version) ? resolveTie(oldRow) : undefined;
  const forced = version.force === true && !(oldRow.deleted && !version.deleted);
  if (!settled && !forced && !isNewer(oldRow, version)) return { old: oldRow, row: oldRow, applied: false };
  const kept =
    !settled && forced && version.keepVersion === true && !isNewer(oldRow, version)
      ? { source_ts: oldRow.source_ts, source_rank: oldRow.source_rank, source_event_id: oldRow.source_event_id }
      : {};
  const all: Record<string, unknown> = settled
    ? { ...settled.values, ...meta, deleted: settled.deleted }
    : { ...compute(oldRow), ...meta, ...kept };
  const names = Object.keys(all);
  const { rows } = await db.query<CrmRow>(
    `UPDATE ${table} SET ${names.map((n, i) => `${n} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1 RETURNING *`,
    [oldRow.id, ...names.map((n) => param(all[n]))],
  );
  return { old: oldRow, row: rows[0]!, applied: true };
}

/**
 * The row id of an object, creating a stub when it is referenced before its own event arrived. `stub: false`
 * creates a real row that claims no version yet (source_ts NULL, so any event writes over it): an object an event
 * is about, though it says nothing of it (a Piano reader seen without a name or an email), as opposed to one
 * waiting for its own event.
 */
export async function ensureRow(
  db: Queryable,
  table: CrmTable,
  key: ObjectKey,
  stubValues: Record<string, unknown>,
  newRowId: () => string,
  { stub = true }: { stub?: boolean } = {},
): Promise<string> {
  const names = Object.keys(stubValues);
  return againIfRaced(async () => {
    const { rows } = await db.query<{ id: string }>(
      `WITH ins AS (
         INSERT INTO ${table} (id, workspace_id, provider, provider_id, stub${names.map((n) => `, ${n}`).join('')})
         VALUES ($1, $2, $3, $4, ${stub}${names.map((_, i) => `, $${i + 5}`).join('')})
         ON CONFLICT (workspace_id, provider, provider_id) DO NOTHING RETURNING id)
       SELECT id FROM ins UNION ALL
       SELECT id FROM ${table} WHERE workspace_id = $2 AND provider = $3 AND provider_id = $4
       LIMIT 1`,
      [newRowId(), key.workspaceId, key.provider, key.providerId, ...names.map((n) => param(stubValues[n]))],
    );
    return rows[0]?.id;
  });
}

/**
 * Runs an insert-or-find statement a second time when it found nothing: its insert waited for another
 * transaction inserting the same row, then did nothing, and its find still looked at the snapshot taken before
 * that commit. The second run's snapshot sees the row.
 */
async function againIfRaced<T>(run: () => Promise<T | undefined>): Promise<T> {
  const first = await run();
  if (first !== undefined) return first;
  const second = await run();
  if (second === undefined) throw new Error('a row inserted by another transaction could not be found');
  return second;
}

/** The customer row for an object (a stub when it is referenced before its own event), linked to an event's
 *  timeline, in one round trip. */
export async function ensureCustomerLinked(db: Queryable, key: ObjectKey, eventId: string, newRowId: () => string): Promise<string> {
  return againIfRaced(async () => {
    const { rows } = await db.query<{ id: string }>(
      `WITH ins AS (
       INSERT INTO customers (id, workspace_id, provider, provider_id, stub) VALUES ($1, $2, $3, $4, true)
       ON CONFLICT (workspace_id, provider, provider_id) DO NOTHING RETURNING id
     ), row AS (
       SELECT id FROM ins UNION ALL
       SELECT id FROM customers WHERE workspace_id = $2 AND provider = $3 AND provider_id = $4
       LIMIT 1
     ), link AS (
       INSERT INTO customer_events (customer_id, event_id) SELECT id, $5 FROM row ON CONFLICT DO NOTHING
     )
     SELECT id FROM row`,
      [newRowId(), key.workspaceId, key.provider, key.providerId, eventId],
    );
    return rows[0]?.id;
  });
}

/**
 * The customer rows of many objects at once (stubs for those not known yet), by `workspaceId\0provider\0providerId`:
 * ensureCustomerLinked for a whole batch of events, without the links (the caller writes those with linkCustomerEvents).
 * Inserted in key order, so two batches stubbing the same customers take them in the same order.
 */
export async function ensureCustomers(db: Queryable, keys: readonly (ObjectKey & { id: string })[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const keyOf = (k: { workspace_id: string; provider: string; provider_id: string }) =>
    `${k.workspace_id}\u0000${k.provider}\u0000${k.provider_id}`;
  let wanted = [...keys].sort((a, b) => {
    const x = `${a.workspaceId}\u0000${a.provider}\u0000${a.providerId}`;
    const y = `${b.workspaceId}\u0000${b.provider}\u0000${b.providerId}`;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  // Twice at most: a customer inserted by another transaction after this statement's snapshot was neither
  // inserted nor seen by it; the second run's snapshot sees it (as againIfRaced does for one row).
  for (let run = 0; run < 2 && wanted.length > 0; run++) {
    const { rows } = await db.query<{ id: string; workspace_id: string; provider: string; provider_id: string }>(
      `WITH u AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(id, workspace_id, provider, provider_id, n)
       ), ins AS (
         INSERT INTO customers (id, workspace_id, provider, provider_id, stub)
         SELECT id, workspace_id, provider, provider_id, true FROM u ORDER BY n
         ON CONFLICT (workspace_id, provider, provider_id) DO NOTHING RETURNING id, workspace_id, provider, provider_id
       )
       SELECT id, workspace_id, provider, provider_id FROM ins
       UNION ALL
       SELECT c.id, c.workspace_id, c.provider, c.provider_id FROM u
       JOIN customers c ON c.workspace_id = u.workspace_id AND c.provider = u.provider AND c.provider_id = u.provider_id`,
      [wanted.map((k) => k.id), wanted.map((k) => k.workspaceId), wanted.map((k) => k.provider), wanted.map((k) => k.providerId)],
    );
    for (const r of rows) found.set(keyOf(r), r.id);
    wanted = wanted.filter((k) => !found.has(`${k.workspaceId}\u0000${k.provider}\u0000${k.providerId}`));
  }
  if (wanted.length > 0) throw new Error('a customer inserted by another transaction could not be found');
  return found;
}

/** Links many (customer, event) pairs at once: the timelines of a batch of events. */
export async function linkCustomerEvents(db: Queryable, links: readonly { customerId: string; eventId: string }[]): Promise<void> {
  if (links.length === 0) return;
  await db.query(
    `INSERT INTO customer_events (customer_id, event_id)
     SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
    [links.map((l) => l.customerId), links.map((l) => l.eventId)],
  );
}

/**
 * Stub rows for objects not known yet, in several tables at once and one round trip (what exists is left
 * alone; nothing returned). A value a stub does not name takes the column's default.
 *
 * The rows travel as one jsonb array per table and set of named columns, read back into rows of the table's own
 * type (jsonb_populate_recordset): the statement's text depends only on the tables and columns, never on the
 * number of rows, so it stays one prepared statement however many stubs a batch of events needs.
 */
export async function ensureStubs(
  db: Queryable,
  workspaceId: string,
  provider: string,
  groups: { table: CrmTable; stubs: { id: string; providerId: string; values: Record<string, unknown> }[] }[],
): Promise<void> {
  const params: unknown[] = [workspaceId, provider];
  const inserts: string[] = [];
  for (const { table, stubs } of groups) {
    // Rows that name the same columns go together; the others take their columns' defaults.
    const byColumns = new Map<string, { names: string[]; rows: Record<string, unknown>[] }>();
    // Sorted, so that two transactions stubbing the same objects take their keys in the same order.
    const sorted = [...stubs].sort((x, y) => (x.providerId < y.providerId ? -1 : x.providerId > y.providerId ? 1 : 0));
    for (const s of sorted) {
      const names = Object.keys(s.values)
        .filter((n) => s.values[n] !== undefined)
        .sort();
      const signature = names.join(',');
      let group = byColumns.get(signature);
      if (!group) byColumns.set(signature, (group = { names, rows: [] }));
      group.rows.push({ ...s.values, id: s.id, provider_id: s.providerId });
    }
    for (const { names, rows } of byColumns.values()) {
      params.push(JSON.stringify(rows));
      inserts.push(`INSERT INTO ${table} (id, workspace_id, provider, provider_id, stub${names.map((n) => `, ${n}`).join('')})
       SELECT r.id, $1, $2, r.provider_id, true${names.map((n) => `, r.${n}`).join('')}
       FROM jsonb_populate_recordset(NULL::${table}, $${params.length}::jsonb) r
       ON CONFLICT (workspace_id, provider, provider_id) DO NOTHING`);
    }
  }
  if (inserts.length === 0) return;
  const last = inserts.pop()!;
  const sql = inserts.length === 0 ? last : `WITH ${inserts.map((ins, i) => `s${i} AS (${ins})`).join(', ')} ${last}`;
  await db.query(sql, params);
}

export async function linkCustomerEvent(db: Queryable, customerId: string, eventId: string): Promise<void> {
  await db.query('INSERT INTO customer_events (customer_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [customerId, eventId]);
}

export async function activeAccessForCustomer(db: Queryable, workspaceId: string, provider: string, customerId: string): Promise<CrmRow[]> {
  const { rows } = await db.query<CrmRow>(
    `SELECT * FROM access WHERE workspace_id = $1 AND provider = $2 AND customer_id = $3 AND status = 'active' FOR UPDATE`,
    [workspaceId, provider, customerId],
  );
  return rows;
}

/**
 * Records a Stripe entitlement summary as its customer's newest (entitlement_summaries) when it is newer, by the
 * version rule, than the newest recorded; true then, false when a newer or the same one was recorded already (the
 * summary is then old news: it must change nothing). The row is locked until the transaction ends, so two summaries
 * of one customer are decided one after the other.
 */
export async function claimNewestSummary(db: Queryable, workspaceId: string, customerId: string, v: Version): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO entitlement_summaries AS s (customer_id, workspace_id, source_ts, source_rank, source_event_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (customer_id) DO UPDATE
       SET source_ts = EXCLUDED.source_ts, source_rank = EXCLUDED.source_rank, source_event_id = EXCLUDED.source_event_id
     WHERE s.source_ts < EXCLUDED.source_ts
        OR (s.source_ts = EXCLUDED.source_ts AND (s.source_rank < EXCLUDED.source_rank
          OR (s.source_rank = EXCLUDED.source_rank AND s.source_event_id COLLATE "C" < EXCLUDED.source_event_id)))
     RETURNING customer_id`,
    [customerId, workspaceId, v.ts, v.rank, v.eventId],
  );
  return rows.length > 0;
}

export const CRM_TABLES: CrmTable[] = [
  'customers',
  'products',
  'prices',
  'subscriptions',
  'invoices',
  'payments',
  'checkout_sessions',
  'access',
];

/** Every CRM row of a workspace, by table. */
export async function snapshotCrm(db: Queryable, workspaceId: string): Promise<Record<CrmTable, CrmRow[]>> {
  const out = {} as Record<CrmTable, CrmRow[]>;
  for (const table of CRM_TABLES) {
    out[table] = (await db.query<CrmRow>(`SELECT * FROM ${table} WHERE workspace_id = $1`, [workspaceId])).rows;
  }
  return out;
}

/** Access rows that no provider event writes (the team's app, workflows, Sluice's own repairs): a rebuild from the
 *  stored events could never restore them, so it keeps them. */
export const KEPT_ACCESS_PROVIDERS = ['app', 'workflows', 'sluice'];

export interface KeptAccessLink {
  id: string;
  customerId: string;
}

/**
 * Removes the workspace's CRM rows and timeline links (before a rebuild re-projects them), except the access rows
 * of KEPT_ACCESS_PROVIDERS. Deleting the customers unlinks those (ON DELETE SET NULL): their links are returned for
 * relinkKeptAccess once the customers are back (a rebuild gives customers their old ids).
 */
export async function clearCrm(db: Queryable, workspaceId: string): Promise<KeptAccessLink[]> {
  const { rows } = await db.query<KeptAccessLink>(
    `SELECT id, customer_id AS "customerId" FROM access WHERE workspace_id = $1 AND provider = ANY($2::text[]) AND customer_id IS NOT NULL`,
    [workspaceId, KEPT_ACCESS_PROVIDERS],
  );
  await db.query('DELETE FROM customer_events WHERE customer_id IN (SELECT id FROM customers WHERE workspace_id = $1)', [workspaceId]);
  for (const table of [...CRM_TABLES].reverse()) {
    if (table === 'access')
      await db.query('DELETE FROM access WHERE workspace_id = $1 AND NOT (provider = ANY($2::text[]))', [
        workspaceId,
        KEPT_ACCESS_PROVIDERS,
      ]);
    else await db.query(`DELETE FROM ${table} WHERE workspace_id = $1`, [workspaceId]);
  }
  return rows;
}

/** Links kept access rows to their customers again, where the customer is back. */
export async function relinkKeptAccess(db: Queryable, workspaceId: string, links: readonly KeptAccessLink[]): Promise<void> {
  if (links.length === 0) return;
  await db.query(
    `UPDATE access a SET customer_id = k.customer_id
     FROM unnest($2::text[], $3::text[]) AS k(id, customer_id)
     WHERE a.id = k.id AND a.workspace_id = $1 AND EXISTS (SELECT 1 FROM customers c WHERE c.id = k.customer_id)`,
    [workspaceId, links.map((l) => l.id), links.map((l) => l.customerId)],
  );
}

/** Gives a row the customer it lacks (written first by an event that did not name one); its version is untouched. */
export async function fillMissingCustomer(db: Queryable, table: CrmTable, id: string, customerId: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE ${table} SET customer_id = $2, updated_at = now() WHERE id = $1 AND customer_id IS NULL`, [
    id,
    customerId,
  ]);
  return (rowCount ?? 0) > 0;
}

export async function findCustomerById(db: Queryable, id: string): Promise<CrmRow | undefined> {
  return (await db.query<CrmRow>('SELECT * FROM customers WHERE id = $1', [id])).rows[0];
}

export async function findCrmRow(
  db: Queryable,
  table: CrmTable,
  workspaceId: string,
  provider: string,
  providerId: string,
): Promise<CrmRow | undefined> {
  return (
    await db.query<CrmRow>(`SELECT * FROM ${table} WHERE workspace_id = $1 AND provider = $2 AND provider_id = $3`, [
      workspaceId,
      provider,
      providerId,
    ])
  ).rows[0];
}

// First key of the two-key advisory lock space for linking people by email (any constant unique to this use).
const PERSON_LOCK_CLASS = 0x5e_50_02;

/** Serializes the transactions that link people by one email (case-insensitive) until they commit. */
export async function lockEmail(db: Queryable, workspaceId: string, email: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2 || lower($3)))', [PERSON_LOCK_CLASS, `${workspaceId}:`, email]);
}

/** The oldest live customer of another provider with this email (case-insensitive): the same person. */
export async function findSamePersonCandidate(
  db: Queryable,
  workspaceId: string,
  email: string,
  provider: string,
): Promise<CrmRow | undefined> {
  const { rows } = await db.query<CrmRow>(
    `SELECT * FROM customers
     WHERE workspace_id = $1 AND lower(email) = lower($2) AND provider <> $3 AND NOT deleted AND NOT stub
     ORDER BY created_at, id LIMIT 1`,
    [workspaceId, email, provider],
  );
  return rows[0];
}

export async function setPersonId(db: Queryable, personId: string, customerIds: string[]): Promise<void> {
  await db.query('UPDATE customers SET person_id = $1 WHERE id = ANY($2)', [personId, customerIds]);
}

/**
 * The refunds of a charge that a charge event at `at` counted in its amount_refunded (Stripe counts a refund from its
 * creation, pending included; a creation time not known counts as earlier) and that have since ended failed or
 * canceled (`undoneAfter`: the event counted them, the charge no longer does), and those it no longer counted because
 * they had ended by then (`undoneBy`): together with the event's own figure, every refund ever made by then.
 */
export async function refundsUndoneAround(db: Queryable, charge: ObjectKey, at: Date): Promise<{ undoneAfter: number; undoneBy: number }> {
  const { rows } = await db.query<{ after: string | null; by: string | null }>(
    `SELECT sum(amount) FILTER (WHERE undone_at > $4) AS after, sum(amount) FILTER (WHERE undone_at <= $4) AS by
     FROM payments
     WHERE workspace_id = $1 AND charge_provider_id = $3 AND provider = $2 AND kind = 'refund' AND NOT stub
       AND undone_at IS NOT NULL AND (refund_created_at IS NULL OR refund_created_at <= $4)`,
    [charge.workspaceId, charge.provider, charge.providerId, at],
  );
  return { undoneAfter: Number(rows[0]?.after ?? 0) || 0, undoneBy: Number(rows[0]?.by ?? 0) || 0 };
}

/**
 * Records that a refund was failed or canceled by `at` (an event saying so): its row keeps the earliest such time,
 * whichever order the events came in. Nothing when the refund has no row yet.
 */
export async function noteRefundUndone(db: Queryable, refund: ObjectKey, at: Date): Promise<void> {
  await db.query(
    `UPDATE payments SET undone_at = $4
     WHERE workspace_id = $1 AND provider = $2 AND provider_id = $3 AND kind = 'refund' AND (undone_at IS NULL OR undone_at > $4)`,
    [refund.workspaceId, refund.provider, refund.providerId, at],
  );
}

/**
 * Sets a charge's amount_refunded from what its event reported, less the refunds that event counted and that have
 * ended failed or canceled since (see refundsUndoneAround): the same figure whatever order the charge's and the
 * refunds' events were projected in. A figure fetched from the API to settle a tie is as of its fetch
 * (reported_as_of), not of the event. The row keeps its version. Nothing for a charge whose reported figure is not
 * known (a stub, or a row written from the provider's API at an unknown time). Returns the new figure when it
 * changed.
 */
export async function recountChargeRefunded(db: Queryable, charge: ObjectKey): Promise<number | undefined> {
  const { rows } = await db.query<{ amount_refunded: string }>(
    `WITH c AS (
       SELECT c.id, GREATEST(c.reported_amount_refunded - COALESCE((
         SELECT sum(r.amount) FROM payments r
         WHERE r.workspace_id = c.workspace_id AND r.charge_provider_id = c.provider_id AND r.provider = c.provider
           AND r.kind = 'refund' AND NOT r.stub AND r.undone_at > COALESCE(c.reported_as_of, c.source_ts)
           AND (r.refund_created_at IS NULL OR r.refund_created_at <= COALESCE(c.reported_as_of, c.source_ts))), 0), 0)
         AS amount_refunded
       FROM payments c
       WHERE c.workspace_id = $1 AND c.provider = $2 AND c.provider_id = $3 AND c.kind = 'charge'
         AND NOT c.stub AND NOT c.deleted AND c.reported_amount_refunded IS NOT NULL AND c.source_ts IS NOT NULL
     )
     UPDATE payments p SET amount_refunded = c.amount_refunded, updated_at = now()
     FROM c WHERE p.id = c.id AND p.amount_refunded IS DISTINCT FROM c.amount_refunded
     RETURNING p.amount_refunded`,
    [charge.workspaceId, charge.provider, charge.providerId],
  );
  return rows[0] ? Number(rows[0].amount_refunded) : undefined;
}

/**
 * Gives the refunds of a charge seen before the charge was (their events name no customer) the charge's customer
 * and invoice; the ids of the stored events that last wrote them, for the customer's timeline.
 */
export async function adoptChargeRefunds(
  db: Queryable,
  charge: ObjectKey,
  customerId: string,
  invoiceProviderId: string | null,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH adopted AS (
       UPDATE payments SET customer_id = $4, invoice_provider_id = COALESCE(invoice_provider_id, $5), updated_at = now()
       WHERE workspace_id = $1 AND charge_provider_id = $3 AND provider = $2 AND kind = 'refund' AND customer_id IS NULL
       RETURNING source_event_id
     )
     SELECT e.id FROM adopted a
     JOIN events e ON e.workspace_id = $1 AND e.provider = $2 AND e.provider_event_id = a.source_event_id`,
    [charge.workspaceId, charge.provider, charge.providerId, customerId, invoiceProviderId],
  );
  return rows.map((r) => r.id);
}

/** The payment intent a stored charge or payment intent row links to this invoice, if any. */
export async function paymentIntentOfInvoice(db: Queryable, workspaceId: string, invoiceProviderId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ pi: string }>(
    `SELECT payment_intent_provider_id AS pi FROM payments
     WHERE workspace_id = $1 AND provider = 'stripe' AND invoice_provider_id = $2 AND payment_intent_provider_id IS NOT NULL
     ORDER BY id LIMIT 1`,
    [workspaceId, invoiceProviderId],
  );
  return rows[0]?.pi;
}

/** The invoice a stored payment row (an invoice payment, or a legacy charge) links to this payment intent, if any. */
export async function invoiceOfPaymentIntent(
  db: Queryable,
  workspaceId: string,
  paymentIntentProviderId: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ invoice: string }>(
    `SELECT invoice_provider_id AS invoice FROM payments
     WHERE workspace_id = $1 AND provider = 'stripe' AND payment_intent_provider_id = $2 AND invoice_provider_id IS NOT NULL
     ORDER BY id LIMIT 1`,
    [workspaceId, paymentIntentProviderId],
  );
  return rows[0]?.invoice;
}
