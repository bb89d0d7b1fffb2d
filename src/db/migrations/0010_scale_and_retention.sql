-- Scale: every filter of the events list becomes a range scan of one index in the list's own order (newest
-- first by id, ids sort by receipt time), so a page costs the same at 10 million events as at 10 thousand;
-- and what the retention job needs.
-- The indexes are built inside the migration's transaction, which blocks writes to events while they build
-- (about a minute per index at 10 million events). On a large database, build them first without blocking
-- (CREATE INDEX CONCURRENTLY with the same names and columns, see docs/scaling.md): IF NOT EXISTS then skips them.

-- Lists filtered by provider and/or status read (workspace, provider, status) ranges already in id order
-- (several ranges merged when only one of the two is given). The same index answers the health view's
-- per-provider counts and last event without touching the table. It replaces (workspace, provider, status),
-- so ingest maintains one index more than before this migration, not two.
DROP INDEX IF EXISTS events_workspace_status;
CREATE INDEX IF NOT EXISTS events_workspace_provider_status ON events (workspace_id, provider, status, id DESC);
-- Lists filtered by type, alone (one range per status, merged) or with a status (one range): a type that is
-- rare in a status (failed invoices) or absent from it is found without reading the type's other events.
CREATE INDEX IF NOT EXISTS events_workspace_type ON events (workspace_id, type, status, id DESC);

-- The queue takes due events in (next_attempt_at, id) order; with the id in the index a claim reads its batch
-- off the index in order instead of sorting every due event first (the whole backlog, when there is one).
-- Only waiting events are in it, so it stays small whatever the history.
CREATE INDEX IF NOT EXISTS events_ready ON events (next_attempt_at, id) WHERE status = 'received';
DROP INDEX IF EXISTS events_due;

-- Deleting an event (retention, a workspace's deletion) cascades to customer_events, whose primary key starts
-- with the customer: without this index every deleted event would scan the whole table.
CREATE INDEX IF NOT EXISTS customer_events_event ON customer_events (event_id);

-- Retention: days of history a workspace keeps; NULL follows SLUICE_RETENTION_DAYS (default 90).
ALTER TABLE workspaces ADD COLUMN retention_days int CHECK (retention_days BETWEEN 1 AND 36500);

-- An event kept past its workspace's retention (a CRM row's current version, a failed event) loses its raw
-- body; raw_pruned_at says when, and lets the row hold neither raw_body nor raw_bytes. NOT VALID: every
-- existing row satisfies it already, and validating would scan the whole table under lock.
ALTER TABLE events ADD COLUMN raw_pruned_at timestamptz;
ALTER TABLE events DROP CONSTRAINT events_raw_kept;
ALTER TABLE events ADD CONSTRAINT events_raw_kept CHECK (raw_body IS NOT NULL OR raw_bytes IS NOT NULL OR raw_pruned_at IS NOT NULL) NOT VALID;
