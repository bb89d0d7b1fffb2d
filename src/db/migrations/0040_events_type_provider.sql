-- The events list by type (or family of types) and provider reads only that provider's events of the type: the
-- type index gets the provider after the type, (workspace, type, provider, status, id). With (workspace, type,
-- status, id), a provider that never sent the type (Piano and `customer.subscription.*`) made each page walk
-- every event of the type, checking the provider in the table: 0.5-1.2 s a page at 2.4 million events
-- (db/queries/events.ts, listEvents). Same number of indexes; an entry is the provider's few bytes longer.
--
-- Built inside the migration's transaction, which blocks writes to events meanwhile (about a minute at 10 million
-- events on the benchmark machine). On a large database, build it first without blocking (CREATE INDEX
-- CONCURRENTLY with this name and these columns, docs/scaling.md): IF NOT EXISTS then skips it.
CREATE INDEX IF NOT EXISTS events_workspace_type_provider ON events (workspace_id, type, provider, status, id DESC);
DROP INDEX IF EXISTS events_workspace_type;
