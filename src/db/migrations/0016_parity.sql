-- Parity: does every customer have exactly the access they pay for, and did we miss anything?
-- - the access policy of each workspace;
-- - access reported by the team's app (provider 'app') and granted by workflows (provider 'workflows') are rows
--   of the access table like Stripe's entitlements and Piano's accesses, so one check reads them all;
-- - check and scan runs, with what they found;
-- - incidents of every kind in one table (the endpoint-disabled incident included);
-- - schedule slots, claimed with a row so two instances run each slot once;
-- - events and messages a reconciliation scan recovered.

CREATE TABLE parity_settings (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  policy jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- When a customer must be checked next:
-- - check_due_at: a change was projected (debounced: a burst of events is checked once);
-- - next_check_at: the next boundary of its state (trial end, period end, cancel_at, grace end, access expiry).
ALTER TABLE customers ADD COLUMN check_due_at timestamptz;
ALTER TABLE customers ADD COLUMN next_check_at timestamptz;
CREATE INDEX customers_check_due ON customers (check_due_at) WHERE check_due_at IS NOT NULL;
CREATE INDEX customers_next_check ON customers (next_check_at) WHERE next_check_at IS NOT NULL;

-- Stripe's pause_collection (null when collection is not paused): a paused collection keeps the status active.
ALTER TABLE subscriptions ADD COLUMN pause_collection jsonb;

-- Access rows by source and expiry, for the per-minute sweep of expired rows.
CREATE INDEX access_live_expiry ON access (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;

CREATE TABLE check_runs (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- 'check' (customers checked) or 'scan' (a reconciliation scan against a provider's API, then checks)
  kind text NOT NULL DEFAULT 'check' CHECK (kind IN ('check', 'scan')),
  trigger text NOT NULL CHECK (trigger IN ('event', 'schedule', 'cron', 'manual', 'scan')),
  -- what was asked: {customerId?} for checks; {provider, since, dryRun} for scans
  scope jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  -- customers checked, findings by kind, incidents opened/resolved, events recovered, API requests, …
  counts jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- the findings (bounded), each {kind, subject, key?, expected, actual, rule}
  findings jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- where a scan is (phase and cursor), persisted after each page so a scan resumes where it stopped
  progress jsonb NOT NULL DEFAULT '{}'::jsonb,
  error text,
  -- the instance running it and its last sign of life: a run whose owner stopped beating is taken over
  owner text,
  heartbeat_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX check_runs_workspace ON check_runs (workspace_id, created_at DESC, id DESC);
CREATE INDEX check_runs_unfinished ON check_runs (status) WHERE status IN ('queued', 'running');

-- Per workspace and provider: where the last complete scan got to, so the next asks only for what is newer.
CREATE TABLE scan_state (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  last_run_id text,
  last_completed_at timestamptz,
  -- the provider time up to which events were compared (the next scan starts a little before it)
  events_until timestamptz,
  PRIMARY KEY (workspace_id, provider)
);

-- Incidents: the table of issue 4 (endpoint disabled) grows into one for every kind. One live incident per
-- dedup key (kind:provider:subject): a recurrence folds into it (occurrences, last_seen_at); an ignored one
-- stays ignored; a key that recurs after a resolve opens a new incident linked to the old one.
ALTER TABLE incidents ALTER COLUMN detail DROP NOT NULL;
ALTER TABLE incidents ADD COLUMN severity text NOT NULL DEFAULT 'warning';
ALTER TABLE incidents ADD COLUMN status text NOT NULL DEFAULT 'open';
ALTER TABLE incidents ADD COLUMN dedup_key text;
ALTER TABLE incidents ADD COLUMN subject text;
ALTER TABLE incidents ADD COLUMN title text;
ALTER TABLE incidents ADD COLUMN details jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE incidents ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE incidents ADD COLUMN occurrences int NOT NULL DEFAULT 1;
ALTER TABLE incidents ADD COLUMN first_seen_at timestamptz;
ALTER TABLE incidents ADD COLUMN last_seen_at timestamptz;
ALTER TABLE incidents ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE incidents ADD COLUMN resolved_by text;
-- the resolved incident this one recurs after (no foreign key: the PGlite importer orders tables by their
-- references and a table cannot come before itself; incidents go only with their workspace)
ALTER TABLE incidents ADD COLUMN previous_id text;
-- the kind of issue 4 is spelled as the contract spells kinds
UPDATE incidents SET kind = 'endpoint_disabled' WHERE kind = 'endpoint.disabled';
UPDATE incidents SET
  status = CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END,
  resolved_by = CASE WHEN resolved_at IS NULL THEN NULL ELSE 'system' END,
  dedup_key = kind || ':outbound:' || COALESCE(endpoint_id, id),
  subject = COALESCE(endpoint_id, id),
  title = COALESCE(detail, kind),
  severity = 'critical',
  first_seen_at = opened_at,
  last_seen_at = COALESCE(resolved_at, opened_at);
-- an endpoint disabled twice before this migration has two open rows: the older ones are folded away
UPDATE incidents i SET status = 'resolved', resolved_by = 'system', resolved_at = COALESCE(i.resolved_at, now())
  WHERE i.status = 'open' AND EXISTS (
    SELECT 1 FROM incidents n WHERE n.workspace_id = i.workspace_id AND n.dedup_key = i.dedup_key
      AND n.status = 'open' AND (n.opened_at, n.id) > (i.opened_at, i.id));
ALTER TABLE incidents ALTER COLUMN dedup_key SET NOT NULL;
ALTER TABLE incidents ALTER COLUMN subject SET NOT NULL;
ALTER TABLE incidents ALTER COLUMN title SET NOT NULL;
ALTER TABLE incidents ALTER COLUMN first_seen_at SET NOT NULL;
ALTER TABLE incidents ALTER COLUMN last_seen_at SET NOT NULL;
ALTER TABLE incidents ALTER COLUMN first_seen_at SET DEFAULT now();
ALTER TABLE incidents ALTER COLUMN last_seen_at SET DEFAULT now();
ALTER TABLE incidents ADD CONSTRAINT incidents_status CHECK (status IN ('open', 'acknowledged', 'resolved', 'ignored'));
CREATE UNIQUE INDEX incidents_live_key ON incidents (workspace_id, dedup_key) WHERE status IN ('open', 'acknowledged', 'ignored');
CREATE INDEX incidents_status ON incidents (workspace_id, status, last_seen_at DESC);
CREATE INDEX incidents_subject ON incidents (workspace_id, subject);

-- Schedule slots: each (schedule, slot) claimed once by INSERT … ON CONFLICT DO NOTHING; the row is also the
-- run's history. A running slot whose heartbeat stopped is taken over (attempts counts the takeovers).
CREATE TABLE schedule_runs (
  schedule text NOT NULL,
  slot timestamptz NOT NULL,
  owner text NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  attempts int NOT NULL DEFAULT 1,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  result jsonb,
  error text,
  PRIMARY KEY (schedule, slot)
);
CREATE INDEX schedule_runs_running ON schedule_runs (heartbeat_at) WHERE status = 'running';

-- Found by a reconciliation scan rather than delivered by the provider: the event, and the business events it caused.
ALTER TABLE events ADD COLUMN recovered boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN recovered boolean NOT NULL DEFAULT false;
