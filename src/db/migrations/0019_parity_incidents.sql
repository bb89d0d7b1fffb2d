-- The incident inbox: who acknowledged or ignored an incident by hand, and the indexes its lists and counts read.
ALTER TABLE incidents ADD COLUMN acknowledged_by text;
ALTER TABLE incidents ADD COLUMN ignored_at timestamptz;
ALTER TABLE incidents ADD COLUMN ignored_by text;

-- The inbox lists a workspace's incidents by status, newest first, paged by id: one range per status asked for.
CREATE INDEX incidents_inbox ON incidents (workspace_id, status, id DESC);
-- Live incidents by kind: the open-incident counts of the health view and of /metrics (read at every scrape), and
-- the lag sample's look-up of the lag and backlog incidents of every workspace, without reading resolved history.
CREATE INDEX incidents_live_kind ON incidents (kind, workspace_id) WHERE status IN ('open', 'acknowledged', 'ignored');
-- The last scan of a workspace (the health view), without reading through its many check runs.
CREATE INDEX check_runs_last_scan ON check_runs (workspace_id, created_at DESC, id DESC) WHERE kind = 'scan';
