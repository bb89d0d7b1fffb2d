-- API maturity: a role on every API key, the answers kept for Idempotency-Key, and the audit of customer
-- erasures.

-- Keys made before roles existed could do everything a key can, so they stay `admin`.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'member', 'viewer'));

-- One row per (credential, Idempotency-Key): claimed while the first request runs, then holding its answer
-- (sealed with the master key: answers can carry a secret shown once) for 24 hours.
CREATE TABLE idempotency_keys (
  -- 'admin' for the admin token, else the API key's id: two credentials never see each other's keys
  scope text NOT NULL,
  key text NOT NULL,
  -- sha256 of method, path and body: the same key with another request is refused, not replayed
  request_hash text NOT NULL,
  -- the workspace of the path, so deleting a workspace deletes its stored answers too
  workspace_id text,
  -- while the first request runs; a claim past this time was abandoned (the process died) and may be taken over
  locked_until timestamptz,
  response_status int,
  response_sealed text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
CREATE INDEX idempotency_keys_workspace ON idempotency_keys (workspace_id) WHERE workspace_id IS NOT NULL;

-- Who erased which person when, and how many rows it touched. Ids only: the record itself holds no
-- personal data.
CREATE TABLE customer_erasures (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- 'admin' or the API key id that asked
  requested_by text NOT NULL,
  -- the Sluice customer ids and provider ids of every linked identity of the person
  customer_ids text[] NOT NULL,
  provider_ids text[] NOT NULL,
  -- rows changed per table
  counts jsonb NOT NULL,
  erased_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_erasures_workspace ON customer_erasures (workspace_id, id DESC);
