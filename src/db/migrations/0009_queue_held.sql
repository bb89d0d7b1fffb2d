-- The leased queue: a claim skips the objects whose events another worker holds right now, so events of one
-- object are never worked on by two workers at once and are taken in order. The held rows are few (the
-- batches in flight); this index finds them without scanning the whole backlog.
CREATE INDEX events_held ON events (workspace_id) WHERE locked_by IS NOT NULL;
