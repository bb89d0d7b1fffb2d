-- When a replay last queued the event again. Processing lag is measured from when an event was queued for the
-- run that processed it: its receipt, or its replay. Measured from the receipt alone, replaying a week-old event
-- counted as a week of lag in the health view, the console's charts and the troubleshooting checks.
ALTER TABLE events ADD COLUMN replayed_at timestamptz;
