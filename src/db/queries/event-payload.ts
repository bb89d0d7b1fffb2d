// Where an event's payload is. A Stripe event taken in whole (its body is exactly its payload) arrives with no
// parsed payload: `raw_is_payload` says the raw body holds it, and the worker's finish writes the jsonb payload
// (migration 0030: parsing kilobytes into jsonb was the largest part of PostgreSQL's work on the request path).
// Until then, readers parse the raw body. Every event that has left the queue has its payload in the column.

/**
 * SQL: the jsonb payload of the events row `t` (a table alias, or `events`), wherever it is kept. Parsed with
 * sluice_jsonb_or_null (migration 0030): a body jsonb refuses after all (see MATERIALIZE_PAYLOAD_ON_FINISH) reads as
 * no payload instead of failing the statement, which could be a claim that every worker retries.
 */
export function payloadOf(t: string): string {
  return `CASE WHEN ${t}.raw_is_payload THEN sluice_jsonb_or_null(${t}.raw_body) ELSE ${t}.payload END`;
}

/** SQL: whether the events row `t` has a payload (an event stored without one had content jsonb cannot hold). */
export function hasPayload(t: string): string {
  return `(${t}.payload IS NOT NULL OR ${t}.raw_is_payload)`;
}

/**
 * SQL assignments for an event's finish (queue.ts, finishClaims; row alias r, outcome o): an event leaving the
 * queue gets its payload from the raw body. Should jsonb refuse the body after all (Node's JSON.parse accepted it,
 * but jsonb is stricter in rare corners: a number beyond numeric's range), the event keeps no payload rather than
 * failing its whole batch's finish at every try.
 */
export const MATERIALIZE_PAYLOAD_ON_FINISH = `payload = CASE WHEN r.raw_is_payload AND o.status <> 'received'
    THEN sluice_jsonb_or_null(r.raw_body) ELSE r.payload END,
  raw_is_payload = r.raw_is_payload AND o.status = 'received'`;
