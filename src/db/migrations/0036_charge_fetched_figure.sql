-- A charge row written from the charge fetched to settle a same-second tie keeps the figure Stripe gave then, and
-- when: it counts every refund's end up to the fetch, so a refund that fails after it must still be taken off
-- (recountChargeRefunded), and one that failed before it must not be taken off twice. NULL: the figure is the
-- event's own, as of the event (source_ts). Before, a fetched row kept no figure and a later failure was never
-- taken off it.
ALTER TABLE payments ADD COLUMN reported_as_of timestamptz;
