-- Objects fetched from a provider's API to settle a same-second tie between two events. Kept with the event
-- that asked, so a rebuild settles the tie the same way without calling the API again.
CREATE TABLE provider_snapshots (
  event_id text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  object_id text NOT NULL,
  object jsonb NOT NULL,
  fetched_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, object_id)
);
