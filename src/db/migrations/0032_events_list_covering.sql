-- The events list without a filter (the newest page, and a cursor however deep) becomes an index-only scan: the
-- list's columns ride in the (workspace, id) index it already walks, so a page reads a few index pages instead of
-- one heap page per row. A 500-row page 2 million rows deep in a 10-million-event database read 153 pages from
-- disk (14 ms; 52 ms on a busier disk) and now reads 16 (0.9 ms); the index grows from ~75 to ~190 bytes a row
-- (docs/scaling.md, "Measured at 10 million events"). The filtered lists keep their own indexes (0010).
--
-- A b-tree entry holds at most ~2.7 KB, so each text column in it is bounded where it is written: the provider's
-- event id and type at ingest (255 bytes), the error by the queue (1,000 bytes). Errors written before are
-- shortened to fit: 250 characters are at most 1,000 bytes.
--
-- Built inside the migration's transaction, which blocks writes to events meanwhile (about 30 s at 10 million
-- events on the benchmark machine). On a large database, build it first without blocking (CREATE INDEX
-- CONCURRENTLY with this name and these columns, docs/scaling.md): IF NOT EXISTS then skips it.
UPDATE events SET error = left(error, 250) WHERE octet_length(error) > 1000;
CREATE INDEX IF NOT EXISTS events_workspace_list ON events (workspace_id, id DESC)
  INCLUDE (provider, provider_event_id, type, livemode, status, attempts, error, received_at, processed_at,
           provider_created_at, next_attempt_at);
DROP INDEX IF EXISTS events_workspace_id;
