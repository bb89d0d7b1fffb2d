-- The live leases, found through an index rather than by reading the whole lease table. Every claim of events
-- collects the serial keys of the leases still live (`until > now()`, db/queries/queue.ts, claimLeased), and the
-- table had no index for that: the claim read every page of it. A lease is deleted when its event finishes, so at
-- 1,000 events/s the table holds tens of thousands of dead rows between two autovacuum passes, and each claim read
-- them all: 0.4-0.6 ms of a 2.5 ms claim with 20,000 dead leases, growing with the traffic since the last vacuum.
-- Through this index the same lookup reads the few live entries (0.01 ms); the entries of deleted leases are skipped
-- once the first scan has found them dead. One more index entry per claim, on a row of ~100 bytes.
CREATE INDEX event_leases_until ON event_leases (until);
