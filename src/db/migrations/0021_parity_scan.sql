-- Reconciliation scans (see docs/scans.md):
-- - one live scan per workspace: a second request, from any instance, finds the running one instead of starting
--   another (the unique index is what two instances racing to start one agree on);
-- - the objects a scan saw at the provider, so that once a listing ends the CRM rows it did not return are found
--   (and fetched one by one before becoming tombstones), whichever instance finishes the scan;
-- - the recovered events still waiting to be processed, which a scan waits for before it compares the CRM.
CREATE UNIQUE INDEX check_runs_one_live_scan ON check_runs (workspace_id) WHERE kind = 'scan' AND status IN ('queued', 'running');

CREATE TABLE scan_seen (
  run_id text NOT NULL REFERENCES check_runs (id) ON DELETE CASCADE,
  provider_id text NOT NULL,
  PRIMARY KEY (run_id, provider_id)
);

CREATE INDEX events_recovered_waiting ON events (workspace_id) WHERE recovered AND status = 'received';
