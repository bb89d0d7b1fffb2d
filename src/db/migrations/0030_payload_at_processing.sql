-- A Stripe event's payload is parsed into jsonb when it is processed, not when it arrives. Parsing the body into
-- jsonb and writing it out of line (TOAST) was over 40 % of PostgreSQL's work per webhook on the request path
-- (docs/benchmarks.md, "Fifteenth session"), for JSON the raw body beside it holds already. Now an event taken in
-- whole (its body is exactly its payload) arrives with `raw_is_payload` set and no `payload`; the worker's finish
-- writes the payload from the raw body, in the same statement that ends its wait. Readers resolve it meanwhile
-- (db/queries/event-payload.ts). The key facts a claim orders events by are read from the body at ingest, where
-- Node has it parsed already (`serial_keys`), so that a claim never parses a body.
ALTER TABLE events
  ADD COLUMN raw_is_payload boolean NOT NULL DEFAULT false,
  -- db/queries/event-serial-keys.ts; NULL: computed from the payload when the event is claimed (rows stored before,
  -- and the rare payloads whose keys Node leaves to PostgreSQL).
  ADD COLUMN serial_keys text[],
  -- Only a waiting event may lack its parsed payload, and only while its raw body is there to parse.
  -- NOT VALID: no existing row has the flag; checking them would read the whole table for nothing.
  ADD CONSTRAINT events_raw_is_payload CHECK (NOT raw_is_payload OR (status = 'received' AND payload IS NULL AND raw_body IS NOT NULL)) NOT VALID;

-- The body as jsonb, or NULL when jsonb refuses it. Node checked it as JSON before taking this path, but jsonb is
-- stricter in rare corners (a number beyond numeric's range): one such event must not fail its whole batch's finish
-- again and again. It is then kept without a payload, as an event with unstorable content is at ingest. No write,
-- so the exception block's subtransaction takes no transaction id.
CREATE FUNCTION sluice_jsonb_or_null(body text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN body::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

-- Raw messages refer to their event (0029); the event's payload is resolved the same way as everywhere else.
CREATE OR REPLACE VIEW messages_with_data AS
  SELECT m.id, m.workspace_id, m.type,
         COALESCE(m.data, e.payload, CASE WHEN e.raw_is_payload THEN sluice_jsonb_or_null(e.raw_body) END) AS data,
         m.source_provider, m.source_event_id, m.dedupe_key, m.created_at, m.test, m.recovered
  FROM messages m LEFT JOIN events e ON m.data IS NULL AND e.id = m.data_event_id;
