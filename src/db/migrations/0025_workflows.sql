-- Workflows: definitions with immutable versions, the trigger inbox, runs (one per workflow and trigger event),
-- one row per (run, step) that is also the leased queue of steps (src/db/queries/queue.ts), attempts of each
-- step, workspace secrets (sealed), and customer tags and attributes written by crm.* steps.

CREATE TABLE workflows (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  -- the version new runs are pinned to
  version int NOT NULL,
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflows_workspace ON workflows (workspace_id, id DESC) WHERE deleted_at IS NULL;

-- An edit is a new row; a row is never changed.
CREATE TABLE workflow_versions (
  workflow_id text NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  version int NOT NULL,
  definition jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, version)
);

-- Messages (business, raw provider, custom events) that may start runs, written in the transaction that
-- publishes the message when the workspace has a live workflow; a leased queue worked off by the workflow
-- worker, which matches the triggers and starts the runs.
CREATE TABLE workflow_triggers (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  message_id text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  last_error text,
  finished_at timestamptz
);
CREATE INDEX workflow_triggers_due ON workflow_triggers (next_attempt_at, id) WHERE status = 'pending';

CREATE TABLE workflow_runs (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  workflow_id text NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  version int NOT NULL,
  -- the fact that started it (the message's dedupe key): exactly one run per workflow and trigger event
  trigger_event_key text NOT NULL,
  message_id text,
  status text NOT NULL CHECK (status IN ('filtered', 'running', 'waiting', 'succeeded', 'failed')),
  mode text NOT NULL DEFAULT 'live',
  -- event.emit chains: 0 for a run started by an outside event
  depth int NOT NULL DEFAULT 0,
  -- what the context is built from: {source, type, id, payload, created, livemode, recovered}
  trigger_event jsonb NOT NULL,
  -- the customer as it was when the run started (null: none)
  customer jsonb,
  -- the provider time of the trigger event (access.* steps are ordered by it)
  event_at timestamptz,
  error text,
  attempt int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (workflow_id, trigger_event_key)
);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, id DESC);
CREATE INDEX workflow_runs_workspace ON workflow_runs (workspace_id, id DESC);

-- One row per (run, step), created when the run reaches the step. Its input is rendered and frozen at the first
-- attempt; retries and a retried run send the same. Also the step queue: a delay step waits in next_attempt_at
-- (a durable timer: no worker is held while it waits).
CREATE TABLE workflow_steps (
  id text PRIMARY KEY,
  run_id text NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
  workspace_id text NOT NULL,
  step_id text NOT NULL,
  kind text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
  input jsonb,
  output jsonb,
  error text,
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (run_id, step_id)
);
CREATE INDEX workflow_steps_due ON workflow_steps (next_attempt_at, id) WHERE status = 'pending';

CREATE TABLE workflow_step_attempts (
  id text PRIMARY KEY,
  step_row_id text NOT NULL REFERENCES workflow_steps (id) ON DELETE CASCADE,
  attempt int NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms int NOT NULL,
  status_code int,
  response_excerpt text,
  error text,
  ok boolean NOT NULL
);
CREATE INDEX workflow_step_attempts_step ON workflow_step_attempts (step_row_id, attempt);

CREATE TABLE workflow_secrets (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL,
  sealed text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, name)
);

-- crm.tag / crm.untag / crm.set
ALTER TABLE customers ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb;
