// Where an event's payload is. A Stripe event taken in whole (its body is exactly its payload) is stored with no
// parsed payload: `raw_is_payload` says the raw body holds it, and that is where it stays (migrations 0030, 0031).
// Parsing kilobytes into jsonb, and writing them out of line a second time, was the largest part of PostgreSQL's
// work per event, first on the request path, then at the worker's finish; readers parse the raw body instead, where
// they need the payload. Other events (Piano's, those taken in by the careful single-row path, those an erasure
// rewrote, and Stripe events processed before 0031) have it in the `payload` column.

/**
 * SQL: the jsonb payload of the events row `t` (a table alias, or `events`), wherever it is kept. Parsed with
 * sluice_jsonb_or_null (migration 0030): a body jsonb refuses after all (Node's JSON.parse accepted it, but jsonb is
 * stricter in rare corners: a number beyond numeric's range) reads as no payload instead of failing the statement,
 * which could be a claim that every worker retries.
 */
export function payloadOf(t: string): string {
  return `CASE WHEN ${t}.raw_is_payload THEN sluice_jsonb_or_null(${t}.raw_body) ELSE ${t}.payload END`;
}

/** SQL: whether the events row `t` has a payload (an event stored without one had content jsonb cannot hold). */
export function hasPayload(t: string): string {
  return `(${t}.payload IS NOT NULL OR ${t}.raw_is_payload)`;
}

/**
 * SQL columns for a reader that parses the payload in Node: `payload` and, when the raw body holds it, that text
 * as `rawPayload` (see withParsedPayload). Cheaper than payloadOf for a row sent to Node: PostgreSQL would parse
 * the text into jsonb and print it again for the driver to parse.
 */
export function payloadColumns(t: string): string {
  return `${t}.payload, CASE WHEN ${t}.raw_is_payload THEN ${t}.raw_body END AS "rawPayload"`;
}

/** A payload kept as raw text, parsed in Node. The text was parsed at ingest already; should it be unreadable after
 *  all, there is no payload, as sluice_jsonb_or_null would read it. */
export function parseKeptPayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** A row read with payloadColumns, its payload parsed from the raw text where that holds it. */
export function withParsedPayload<T extends { payload: unknown }>(row: T & { rawPayload: string | null }): T {
  const { rawPayload, ...rest } = row;
  return (rawPayload === null ? rest : { ...rest, payload: parseKeptPayload(rawPayload) }) as unknown as T;
}
