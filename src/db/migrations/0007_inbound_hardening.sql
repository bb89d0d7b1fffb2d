-- Inbound hardening. A validly signed event is always kept, even when PostgreSQL cannot hold its content as
-- jsonb (a NUL or lone surrogate escape, absurd nesting) or its body is not UTF-8 text: such an event is stored
-- with no payload, its exact bytes in raw_bytes, and marked failed with a readable reason.
ALTER TABLE events ALTER COLUMN payload DROP NOT NULL;
-- raw_body keeps the body when it is exact as text (every well-formed body); raw_bytes only when it is not.
ALTER TABLE events ALTER COLUMN raw_body DROP NOT NULL;
ALTER TABLE events ADD COLUMN raw_bytes bytea;
ALTER TABLE events ADD CONSTRAINT events_raw_kept CHECK (raw_body IS NOT NULL OR raw_bytes IS NOT NULL);
