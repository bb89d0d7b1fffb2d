-- Delivery claims move into a table of their own, as event claims did (0028). A claim wrote its lease (`locked_by`,
-- `locked_until`, `attempts`) into the delivery's row, and `locked_by` is the predicate of the in-flight index: every
-- claim was a new version of the row with an entry in each of its six indexes, 32 µs of the database's time a
-- delivery, where a row in a narrow table costs 4-5 (docs/benchmarks.md, "Twenty-sixth session"). The delivery's row
-- is now written once per attempt, when the attempt is recorded; the claim writes a lease, which the record deletes.
CREATE TABLE delivery_leases (
  -- the delivery claimed
  id text PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
  -- the sender holding it, and until when (a dead sender's lease runs out and the delivery is claimed again)
  worker text NOT NULL,
  until timestamptz NOT NULL,
  -- attempts counting this one: written to the delivery when the attempt is recorded, so that one whose sender
  -- dies every time still runs out of attempts
  attempts integer NOT NULL,
  -- the delivery's endpoint, copied: a claim counts each endpoint's deliveries in flight from the live leases
  endpoint_id text NOT NULL
);
CREATE INDEX delivery_leases_endpoint ON delivery_leases (endpoint_id, until);

-- Claims held now become leases, so their senders' records still land (the worker names match) and a claim whose
-- sender is gone is taken over when it expires, its attempt noted as interrupted. An instance of an earlier release
-- still sending after this fails its claims and records (the columns are gone) instead of sending a delivery a new
-- one holds: docs/operations.md.
INSERT INTO delivery_leases (id, worker, until, attempts, endpoint_id)
  SELECT id, locked_by, COALESCE(locked_until, now()), attempts, endpoint_id
  FROM deliveries WHERE locked_by IS NOT NULL AND status = 'pending';
DROP INDEX IF EXISTS deliveries_in_flight;
ALTER TABLE deliveries DROP COLUMN locked_by, DROP COLUMN locked_until;
