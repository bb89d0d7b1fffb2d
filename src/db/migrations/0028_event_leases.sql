-- Event claims move out of the events row into a narrow table of their own. A claim used to write the lease
-- (locked_by, locked_until, attempts) into the event's row: a new version of a ~1.6 KB row with 7 index entries
-- for every event claimed, then another at its finish. A lease row is ~100 bytes with one index: the claim no
-- longer rewrites the event, only the finish does (docs/benchmarks.md, "What projection asks of PostgreSQL").
CREATE TABLE event_leases (
  -- the event claimed
  id text PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
  -- the worker holding it, and until when (a dead worker's lease runs out and the event is claimed again)
  worker text NOT NULL,
  until timestamptz NOT NULL,
  -- what the event is about (db/queries/events.ts, eventSerialKeys): no other worker takes an event sharing one
  keys text[] NOT NULL,
  -- attempts counting this one: written to the event at its finish, so that an event that kills its worker every
  -- time still runs out of attempts
  attempts integer NOT NULL
);

-- Claims in flight now were counted in the event's attempts when they were taken: they are simply dropped, and
-- their events are due again. (events_held goes with locked_by.)
ALTER TABLE events DROP COLUMN locked_by, DROP COLUMN locked_until;
