-- The version of the newest Stripe entitlement summary projected for each customer. A summary is the customer's whole
-- list of active entitlements, so only the newest counts, and an older one delivered late must change nothing. The
-- access rows alone could not say which summary was the newest: a summary writes only the rows whose keys it grants or
-- revokes, so one that lists nothing, for a customer with nothing active, wrote none, and an older summary arriving
-- after it granted what it had said was gone. The row goes with its customer (a rebuild deletes and re-projects both).
CREATE TABLE entitlement_summaries (
  customer_id text PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  source_ts timestamptz NOT NULL,
  source_rank int NOT NULL,
  source_event_id text NOT NULL
);
-- Retention keeps the event each row names (a rebuild needs it), looked up by workspace.
CREATE INDEX entitlement_summaries_workspace ON entitlement_summaries (workspace_id);

-- Until now the newest summary that wrote one of a customer's Stripe access rows stood for it: the same versions.
INSERT INTO entitlement_summaries (customer_id, workspace_id, source_ts, source_rank, source_event_id)
SELECT DISTINCT ON (customer_id) customer_id, workspace_id, source_ts, source_rank, source_event_id
FROM access
WHERE provider = 'stripe' AND customer_id IS NOT NULL AND source_ts IS NOT NULL AND source_event_id IS NOT NULL
ORDER BY customer_id, source_ts DESC, source_rank DESC, source_event_id COLLATE "C" DESC;
