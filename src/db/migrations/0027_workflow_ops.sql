-- Workflow operations: reruns from a step (the earlier step rows stay as history), run retention, and the time
-- the trigger message was published (the trigger → first step lag is measured from it).

-- The attempt of the latest rerun of the run (null: never rerun). Step rows created from then on carry it, and
-- so do the keys their effects are deduplicated by: a rerun acts again, a retry repeats with the same keys.
ALTER TABLE workflow_runs ADD COLUMN rerun int;
-- When the message that started the run was published (null for runs started before this migration).
ALTER TABLE workflow_runs ADD COLUMN triggered_at timestamptz;

-- A step row belongs to the run attempt of a rerun (null: the first execution of that step of the run); a later
-- rerun from this step or an earlier one supersedes it: it stays, read-only, as the history of the run.
ALTER TABLE workflow_steps ADD COLUMN rerun int;
ALTER TABLE workflow_steps ADD COLUMN superseded_at timestamptz;

-- One current row per (run, step); superseded rows are history and may repeat a step id.
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_run_id_step_id_key;
CREATE UNIQUE INDEX workflow_steps_current ON workflow_steps (run_id, step_id) WHERE superseded_at IS NULL;
CREATE INDEX workflow_steps_run ON workflow_steps (run_id, created_at, id);

-- Days of workflow runs kept; null follows SLUICE_WORKFLOW_RUN_RETENTION_DAYS.
ALTER TABLE workspaces ADD COLUMN workflow_run_retention_days int;

-- Retention walks a workspace's finished runs by the time they finished.
CREATE INDEX workflow_runs_finished ON workflow_runs (workspace_id, finished_at)
  WHERE status IN ('succeeded', 'failed', 'filtered');
