// Outbound messages (business events, raw provider events, custom and test events) and their fan-out: a
// message and its deliveries are written in one statement sequence of the caller's transaction, so a
// message is never stored without the deliveries it owes, nor delivered without being stored.
import { idFloor, newId } from '../../lib/ids.js';
import type { Queryable } from '../port.js';
import { hasPayload } from './event-payload.js';

export interface NewMessage {
  id: string;
  workspaceId: string;
  type: string;
  data: unknown;
  /** The id of a stored event whose payload `data` is (a raw provider message): the message then refers to the
   *  event instead of holding a copy of what the database already has (see migration 0029). */
  dataOfEvent?: string;
  sourceProvider: string | null;
  sourceEventId: string | null;
  /** One message per fact: publishing the same fact again (replay, redelivery) is a no-op. */
  dedupeKey: string;
  /** Deliver only to these endpoints (a test event) instead of every matching, enabled one. */
  endpointIds?: string[];
  /** Seconds before the first attempt (the first value of SLUICE_RETRY_SCHEDULE); 0 when absent. */
  firstAttemptDelaySeconds?: number;
  /** A test message (synthetic data): flagged wherever it is shown. */
  test?: boolean;
  /** Caused by an event a reconciliation scan found (the provider never delivered it). */
  recovered?: boolean;
  /** Whether the message may start workflow runs (default: yes, unless a test message). */
  triggersWorkflows?: boolean;
}

/**
 * The trigger inbox row of each new message, when the workspace has a live workflow: written in the statement that
 * stores the message, so a run is owed exactly when the message is (the workflow worker matches the triggers).
 * `$ws` is the workspace parameter, `m` the CTE of inserted messages (with `id`), `cond` an extra SQL condition.
 */
const workflowInbox = (ws: string, cond: string) => `, wt AS (
       INSERT INTO workflow_triggers (id, workspace_id, message_id)
       SELECT 'wtr' || substr(m.id, 4), ${ws}, m.id FROM m
       WHERE ${cond} AND EXISTS (SELECT 1 FROM workflows w WHERE w.workspace_id = ${ws} AND w.enabled AND w.deleted_at IS NULL)
     )`;

export interface MessageRow {
  id: string;
  workspace_id: string;
  type: string;
  data: unknown;
  source_provider: string | null;
  source_event_id: string | null;
  dedupe_key: string;
  test: boolean;
  recovered: boolean;
  created_at: Date;
}

/**
 * The endpoint filter rule of catalog/match.ts, in SQL, for a text[] of patterns and a type expression: empty,
 * '*', the exact type, or 'prefix.*'. test/integration/outbound-catalog.test.ts runs both on the same cases.
 */
export function matchesTypeSql(patterns: string, type: string): string {
  return `(cardinality(${patterns}) = 0 OR EXISTS (
  SELECT 1 FROM unnest(${patterns}) AS f(pattern)
  WHERE pattern = '*' OR pattern = ${type}
     OR (right(pattern, 2) = '.*' AND left(${type}, length(pattern) - 1) = left(pattern, -1))))`;
}

/** The SQL rule on one case, for the test that holds it to the TypeScript one. */
export async function typeMatchesPatterns(db: Queryable, patterns: string[], type: string): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(`SELECT ${matchesTypeSql('$1::text[]', '$2::text')} AS ok`, [patterns, type]);
  return rows[0]!.ok;
}

/**
 * A raw message's reference to its event (migration 0029), given the event id's parameter: only an event that has
 * a payload. Otherwise neither data nor the reference is set, and the messages_data_present check refuses the row.
 */
const EVENT_WITH_PAYLOAD = (eventId: string) => `(SELECT e.id FROM events e WHERE e.id = ${eventId}::text AND ${hasPayload('e')})`;

/** The data parameter of a message: none for one that refers to its event's payload. */
const dataParam = (m: NewMessage) => (m.dataOfEvent === undefined ? JSON.stringify(m.data) : null);

/**
 * Stores the message and one delivery per matching endpoint that is enabled or paused (a paused endpoint's
 * deliveries wait; a disabled one gets none); false when the fact was already published.
 */
export async function publishMessage(db: Queryable, m: NewMessage): Promise<boolean> {
  if (!m.endpointIds) return publishToSubscribers(db, m);
  const { rowCount } = await db.query(
    `INSERT INTO messages (id, workspace_id, type, data, data_event_id, source_provider, source_event_id, dedupe_key, test, recovered)
     VALUES ($1, $2, $3, $4, ${EVENT_WITH_PAYLOAD('$10')}, $5, $6, $7, $8, $9) ON CONFLICT (workspace_id, dedupe_key) DO NOTHING`,
    [
      m.id,
      m.workspaceId,
      m.type,
      dataParam(m),
      m.sourceProvider,
      m.sourceEventId,
      m.dedupeKey,
      m.test ?? false,
      m.recovered ?? false,
      m.dataOfEvent ?? null,
    ],
  );
  if (rowCount !== 1) return false;
  if (m.endpointIds.length > 0) {
    const ids = m.endpointIds.map(() => newId('dlv'));
    await db.query(
      `INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, next_attempt_at)
       SELECT d.id, $1, d.endpoint_id, $2, now() + make_interval(secs => $5::float8)
       FROM unnest($3::text[], $4::text[]) AS d(id, endpoint_id)`,
      [m.workspaceId, m.id, ids, m.endpointIds, m.firstAttemptDelaySeconds ?? 0],
    );
  }
  return true;
}

/**
 * The usual case, in one round trip (projections publish one or more messages per event): the message, and a
 * delivery for each subscribed endpoint. A delivery id is the creation time (as in newId, so ids still sort by
 * creation) and 14 hex digits of md5(message id, endpoint id): unique per pair, as the pair itself is.
 */
async function publishToSubscribers(db: Queryable, m: NewMessage): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `WITH m AS (
       INSERT INTO messages (id, workspace_id, type, data, data_event_id, source_provider, source_event_id, dedupe_key, test, recovered)
       VALUES ($1, $2, $3, $4, ${EVENT_WITH_PAYLOAD('$13')}, $5, $6, $7, $8, $11)
       ON CONFLICT (workspace_id, dedupe_key) DO NOTHING RETURNING id
     ), d AS (
       INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, next_attempt_at)
       SELECT $9 || substr(md5(m.id || ':' || e.id), 1, 14), $2, e.id, m.id, now() + make_interval(secs => $10::float8)
       FROM m JOIN endpoints e ON e.workspace_id = $2 AND e.state IN ('enabled', 'paused') AND ${matchesTypeSql('e.event_types', '$3::text')}
     )${workflowInbox('$2', 'NOT $8::boolean AND $12::boolean')}
     SELECT count(*)::int AS n FROM m`,
    [
      m.id,
      m.workspaceId,
      m.type,
      dataParam(m),
      m.sourceProvider,
      m.sourceEventId,
      m.dedupeKey,
      m.test ?? false,
      newId('dlv').slice(0, 'dlv_'.length + 10),
      m.firstAttemptDelaySeconds ?? 0,
      m.recovered ?? false,
      m.triggersWorkflows ?? true,
      m.dataOfEvent ?? null,
    ],
  );
  return rows[0]!.n === 1;
}

/**
 * Many messages of one workspace at once (a bulk access sync publishes thousands), with the deliveries they owe,
 * one statement per 2,000 messages; the number actually stored (facts already published are skipped).
 */
export async function publishMessages(
  db: Queryable,
  workspaceId: string,
  messages: readonly Omit<NewMessage, 'workspaceId' | 'endpointIds' | 'test'>[],
): Promise<number> {
  let stored = 0;
  for (let i = 0; i < messages.length; i += 2000) {
    const done = await storeMessages(
      db,
      messages.slice(i, i + 2000).map((m) => ({ ...m, workspaceId })),
    );
    stored += done.stored;
  }
  return stored;
}

/** What storeMessages stored, and whether any of it is work for a worker of this process to claim. */
export interface StoredMessages {
  /** Messages actually stored (facts already published are skipped). */
  stored: number;
  /** A delivery to an enabled endpoint, or a workflow trigger, was created: the sender's (or the workflow worker's)
   *  next claim finds something. A workspace without endpoints, or whose endpoints are paused, creates neither. */
  claimable: boolean;
}

/**
 * Messages of any workspaces at once, each with its own options (the messages a batch of events published, see
 * services/processing/batch-writes.ts), with the deliveries and trigger inbox rows they owe, in one statement (see
 * StoredMessages for what it says back). A delivery id starts with the time part of its message id, so deliveries
 * sort as their messages do, then 14 hex digits of md5(message id, endpoint id).
 */
export async function storeMessages(db: Queryable, messages: readonly NewMessage[]): Promise<StoredMessages> {
  if (messages.length === 0) return { stored: 0, claimable: false };
  const { rows } = await db.query<{ n: number; claimable: boolean }>(
    `WITH u AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb)
         AS u(id text, workspace_id text, type text, data jsonb, data_of_event text, source_provider text, source_event_id text,
              dedupe_key text, test boolean, recovered boolean, delay float8, triggers boolean)
     ), m AS (
       INSERT INTO messages (id, workspace_id, type, data, data_event_id, source_provider, source_event_id, dedupe_key, test, recovered)
       SELECT id, workspace_id, type, CASE WHEN data_of_event IS NULL THEN data END, ${EVENT_WITH_PAYLOAD('data_of_event')},
              source_provider, source_event_id, dedupe_key, test, recovered FROM u
       ON CONFLICT (workspace_id, dedupe_key) DO NOTHING RETURNING id, workspace_id, type
     ), d AS (
       INSERT INTO deliveries (id, workspace_id, endpoint_id, message_id, next_attempt_at)
       SELECT 'dlv_' || substr(m.id, 5, 10) || substr(md5(m.id || ':' || e.id), 1, 14), m.workspace_id, e.id, m.id,
              now() + make_interval(secs => u.delay)
       FROM m JOIN u ON u.id = m.id
       JOIN endpoints e ON e.workspace_id = m.workspace_id AND e.state IN ('enabled', 'paused') AND ${matchesTypeSql('e.event_types', 'm.type')}
     ), wt AS (
       INSERT INTO workflow_triggers (id, workspace_id, message_id)
       SELECT 'wtr' || substr(m.id, 4), m.workspace_id, m.id FROM m JOIN u ON u.id = m.id
       WHERE NOT u.test AND u.triggers
         AND EXISTS (SELECT 1 FROM workflows w WHERE w.workspace_id = m.workspace_id AND w.enabled AND w.deleted_at IS NULL)
       RETURNING 1
     )
     SELECT count(*)::int AS n,
            EXISTS (SELECT 1 FROM wt) OR EXISTS (
              SELECT 1 FROM m JOIN endpoints e ON e.workspace_id = m.workspace_id AND e.state = 'enabled' AND ${matchesTypeSql('e.event_types', 'm.type')}
            ) AS claimable
     FROM m`,
    // One JSON document for the lot: each message's data is written into it as it is, not as a string to be
    // quoted again inside an array literal (which doubled the memory and CPU of a flush). A raw provider message
    // sends only the id of its event: its data is the event's payload, already in the database, and the message
    // refers to it (half the bytes of a flush of raw messages were those payloads, stringified here and parsed
    // again there, and then a copy of each went to disk).
    [
      JSON.stringify(
        messages.map((m) => ({
          id: m.id,
          workspace_id: m.workspaceId,
          type: m.type,
          ...(m.dataOfEvent === undefined ? { data: m.data } : { data_of_event: m.dataOfEvent }),
          source_provider: m.sourceProvider,
          source_event_id: m.sourceEventId,
          dedupe_key: m.dedupeKey,
          test: m.test ?? false,
          recovered: m.recovered ?? false,
          delay: m.firstAttemptDelaySeconds ?? 0,
          triggers: m.triggersWorkflows ?? true,
        })),
      ),
    ],
  );
  return { stored: rows[0]!.n, claimable: rows[0]!.claimable };
}

export async function findMessageByDedupeKey(db: Queryable, workspaceId: string, dedupeKey: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages_with_data WHERE workspace_id = $1 AND dedupe_key = $2', [
    workspaceId,
    dedupeKey,
  ]);
  return rows[0];
}

/**
 * A message with a fingerprint of its data, read in the same statement: the sender compares it when recording
 * the attempt to learn whether the data changed (an erasure) while the request was out.
 */
export async function findMessage(
  db: Queryable,
  workspaceId: string,
  id: string,
): Promise<(MessageRow & { fingerprint: string }) | undefined> {
  const { rows } = await db.query<MessageRow & { fingerprint: string }>(
    'SELECT *, md5(data::text) AS fingerprint FROM messages_with_data WHERE workspace_id = $1 AND id = $2',
    [workspaceId, id],
  );
  return rows[0];
}

/** The newest real (not test) message of a type: REST Hooks samples show real data when there is some. */
export async function latestMessageOfType(db: Queryable, workspaceId: string, type: string): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>(
    'SELECT * FROM messages_with_data WHERE workspace_id = $1 AND type = $2 AND NOT test ORDER BY id DESC LIMIT 1',
    [workspaceId, type],
  );
  return rows[0];
}

/** Custom event types published in a workspace (neither derived by Sluice nor relayed from a provider). */
export async function customTypesOf(db: Queryable, workspaceId: string): Promise<string[]> {
  const { rows } = await db.query<{ type: string }>(
    `SELECT DISTINCT type FROM messages WHERE workspace_id = $1 AND source_provider IS NULL AND NOT test AND dedupe_key LIKE 'custom:%'`,
    [workspaceId],
  );
  return rows.map((r) => r.type);
}

/** Messages created after a given id, oldest first (`sluice listen`). */
export async function messagesAfter(db: Queryable, workspaceId: string, afterId: string, limit: number): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>('SELECT * FROM messages_with_data WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3', [
    workspaceId,
    afterId,
    limit,
  ]);
  return rows;
}

export type MessageKind = 'business' | 'raw' | 'custom' | 'test';

/**
 * A page of messages, newest first, by kind (business: derived by Sluice; raw: relayed from a provider;
 * custom: published by the team; test: sent by "send test event"), exact type or `prefix.*`, and a lower time
 * bound turned into an id bound (ids sort by creation), so every filter walks the messages_workspace index.
 */
export async function listMessagesPage(
  db: Queryable,
  o: {
    workspaceId: string;
    kind?: MessageKind | undefined;
    type?: string | undefined;
    sinceId?: string | undefined;
    before?: string | undefined;
    limit: number;
  },
): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `SELECT * FROM messages_with_data WHERE workspace_id = $1
       AND ($2::text IS NULL OR type = $2 OR (right($2, 2) = '.*' AND left(type, length($2) - 1) = left($2, -1)))
       AND ($3::text IS NULL OR id >= $3) AND ($4::text IS NULL OR id < $4)
       AND CASE $5::text
             WHEN 'test' THEN test
             WHEN 'custom' THEN NOT test AND dedupe_key LIKE 'custom:%'
             WHEN 'raw' THEN NOT test AND (type LIKE 'stripe.%' OR type LIKE 'piano.%')
             WHEN 'business' THEN NOT test AND dedupe_key NOT LIKE 'custom:%' AND type NOT LIKE 'stripe.%' AND type NOT LIKE 'piano.%'
             ELSE true END
     ORDER BY id DESC LIMIT $6`,
    [o.workspaceId, o.type ?? null, o.sinceId ?? null, o.before ?? null, o.kind ?? null, o.limit],
  );
  return rows;
}

/** How far around an event's raw message its business messages are looked for: they are published in the same
 *  transaction, so their ids (creation times) are within moments of it; the margin covers a slow transaction. */
const SAME_RUN_MS = 5 * 60_000;

/**
 * The messages one event published: its raw message (found by its dedupe key) and the business messages of the
 * same run (same source event, ids within SAME_RUN_MS of the raw message's: a bounded range of the workspace's id
 * index, never a scan of its whole history).
 */
export async function messagesOfEvent(
  db: Queryable,
  workspaceId: string,
  event: { id: string; provider: string; providerEventId: string },
  limit = 100,
): Promise<MessageRow[]> {
  const raw = await findMessageByDedupeKey(db, workspaceId, `raw:${event.id}`);
  if (!raw) return [];
  const at = raw.created_at.getTime();
  const { rows } = await db.query<MessageRow>(
    `SELECT * FROM messages_with_data WHERE workspace_id = $1 AND id >= $2 AND id < $3
       AND source_provider = $4 AND source_event_id = $5 AND id <> $6
     ORDER BY id LIMIT $7`,
    [workspaceId, idFloor('msg', at - SAME_RUN_MS), idFloor('msg', at + SAME_RUN_MS), event.provider, event.providerEventId, raw.id, limit],
  );
  return [...rows, raw];
}
