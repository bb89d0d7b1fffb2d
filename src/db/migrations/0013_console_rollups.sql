-- The console's overview charts: per completed hour, what the hour's events and delivery attempts add up to,
-- computed once (an index range scan of that hour) the first time a page needs the hour, and never written by
-- ingest or delivery: the hot paths stay as they are. The current hour is always computed live.

-- Hours already computed for a workspace (with or without anything in them): an hour listed here is never
-- computed again.
CREATE TABLE console_rollup_hours (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  hour timestamptz NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, hour)
);

-- One row per (hour, metric): 'received:<provider>' (n events received), 'lag:<provider>' (n events processed,
-- total seconds from receipt to processing), 'attempts' (n delivery attempts, total = how many succeeded).
CREATE TABLE console_rollups (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  hour timestamptz NOT NULL,
  metric text NOT NULL,
  n bigint NOT NULL,
  total float8 NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, hour, metric)
);
