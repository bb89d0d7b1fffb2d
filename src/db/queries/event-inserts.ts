// The group-commit side of the event store: many verified events in one INSERT and one commit. Each column
// travels as one array parameter (unnest), so the statement text is the same for every batch size and the
// server plans it like a single-row insert. The bodies travel as they arrived: their bytes end to end in one
// binary parameter (no quoting or escaping of kilobytes of JSON per row), cut apart and checked as UTF-8 by
// PostgreSQL. An event waiting for processing whose body is its payload is stored without a parsed payload
// (`raw_is_payload`): the worker's finish parses it, off the request path (migration 0030). Any other event's
// jsonb payload is cast from its text here: sent once, parsed once, never parsed and re-serialised in Node.
import { utf8Prefix } from '../../lib/utf8-prefix.js';
import type { Queryable } from '../port.js';
import { SERIAL_KEY_SEPARATOR } from './event-serial-keys.js';
import type { NewEvent } from './events.js';

/** An event of the single-row insert's shape, with its body as bytes for the batch's one binary parameter. */
export interface BatchedEvent extends Pick<
  NewEvent,
  'id' | 'workspaceId' | 'provider' | 'providerEventId' | 'type' | 'livemode' | 'providerCreatedAt'
> {
  /** The body exactly as received: valid UTF-8 without NUL (it is stored as text). */
  rawBody: Buffer;
  /** The JSON text of the payload when it is not the raw body itself (Piano: the decrypted message); null
   *  means the raw body is the payload. */
  payloadText: string | null;
  status: 'received' | 'ignored';
  error: string | null;
  inboundMethod: string | null;
  /** What the event is about (event-serial-keys.ts, serialKeysOf), or null to leave them to the claim. */
  serialKeys: string[] | null;
}

/**
 * The events list's covering index (migration 0032) holds these columns, and a b-tree entry fits ~2.7 KB in all:
 * each text column a provider or a failure can make long is bounded in bytes. The provider's event id is refused
 * longer than EVENT_KEY_MAX_BYTES where it is parsed (cutting it would merge distinct events); a type is cut (the
 * payload keeps it whole), and so is an error.
 */
export const EVENT_KEY_MAX_BYTES = 255;
export const EVENT_ERROR_MAX_BYTES = 1000;
export const storedType = (type: string) => utf8Prefix(type, EVENT_KEY_MAX_BYTES);
export const storedError = (error: string | null) => (error === null ? null : utf8Prefix(error, EVENT_ERROR_MAX_BYTES));

const INSERT_BATCH = `
  INSERT INTO events (id, workspace_id, provider, provider_event_id, type, livemode, provider_created_at,
                      payload, raw_is_payload, raw_body, serial_keys, status, error, processed_at, inbound_method)
  SELECT u.id, u.ws, u.provider, u.pev, u.type, u.livemode, u.created,
         CASE WHEN u.payload IS NULL AND u.status = 'received' THEN NULL ELSE COALESCE(u.payload, r.raw)::jsonb END,
         u.payload IS NULL AND u.status = 'received', r.raw, string_to_array(u.keys, chr(${SERIAL_KEY_SEPARATOR.charCodeAt(0)})),
         u.status, u.error, CASE WHEN u.status <> 'received' THEN now() END, u.method
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[],
              $8::text[], $9::int[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[])
       AS u(id, ws, provider, pev, type, livemode, created, payload, start, len, status, error, method, keys),
       LATERAL (SELECT convert_from(substring($15::bytea FROM u.start FOR u.len), 'UTF8') AS raw) r
  ON CONFLICT (workspace_id, provider, provider_event_id) DO NOTHING
  RETURNING id`;

/**
 * Inserts the events in one statement (one implicit transaction: all rows commit together or none does) and
 * returns the ids actually inserted; an event whose (workspace, provider, provider event id) is already stored
 * is skipped. The caller must not pass two events with the same key, and should pass them in key order so that
 * concurrent batches lock index entries in the same order and cannot deadlock.
 */
export async function insertEventBatch(db: Queryable, events: readonly BatchedEvent[]): Promise<Set<string>> {
  const n = events.length;
  const cols = Array.from({ length: 14 }, () => new Array<unknown>(n));
  let start = 1; // substring() counts from 1
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    cols[0]![i] = e.id;
    cols[1]![i] = e.workspaceId;
    cols[2]![i] = e.provider;
    cols[3]![i] = e.providerEventId;
    cols[4]![i] = storedType(e.type);
    cols[5]![i] = e.livemode;
    cols[6]![i] = e.providerCreatedAt;
    cols[7]![i] = e.payloadText;
    cols[8]![i] = start;
    cols[9]![i] = e.rawBody.length;
    cols[10]![i] = e.status;
    cols[11]![i] = storedError(e.error);
    cols[12]![i] = e.inboundMethod;
    cols[13]![i] = e.serialKeys === null ? null : e.serialKeys.join(SERIAL_KEY_SEPARATOR);
    start += e.rawBody.length;
  }
  const bodies = Buffer.concat(events.map((e) => e.rawBody));
  const { rows } = await db.query<{ id: string }>(INSERT_BATCH, [...cols, bodies]);
  return new Set(rows.map((r) => r.id));
}
