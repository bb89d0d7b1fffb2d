-- A Stripe event taken in whole keeps its payload in its raw body for good: the worker's finish no longer writes a
-- jsonb copy (0030 did). The copy was the largest part of what a processed event cost PostgreSQL and the disk:
-- parsing 5 KB into jsonb and writing it out of line again, 2.7 KB of its 6.6 KB on disk and 3 KB of the 7 KB of
-- WAL a processed event wrote (docs/benchmarks.md, "Sixteenth session"). Readers already resolve the payload from
-- the raw body (db/queries/event-payload.ts). Events processed before keep the payload they have.
--
-- The check now holds at every status: an event marked raw has no payload column and does have its raw body
-- (retention never prunes a raw body that is an event's only content).
ALTER TABLE events
  DROP CONSTRAINT events_raw_is_payload,
  ADD CONSTRAINT events_raw_is_payload CHECK (NOT raw_is_payload OR (payload IS NULL AND raw_body IS NOT NULL)) NOT VALID;
