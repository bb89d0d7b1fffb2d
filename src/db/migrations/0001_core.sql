-- Core: workspaces, access, provider connections, the inbound event store (which is also the processing
-- queue) and the diagnostics counters of rejected webhooks.

CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
  id text PRIMARY KEY,
  name text NOT NULL,
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key_hash text NOT NULL UNIQUE,
  -- first characters of the key, so an operator can tell keys apart without the key itself
  key_prefix text NOT NULL,
  name text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE connections (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  -- non-secret settings (mode, region, aid …)
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- JSON of the secrets, sealed with the master key (AES-256-GCM); never returned by the API
  secrets_sealed text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, provider)
);

CREATE TABLE events (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  -- dedupe key: Stripe's evt_ id; for providers without ids, a hash of the raw payload
  provider_event_id text NOT NULL,
  type text NOT NULL,
  livemode boolean,
  -- the provider's own timestamp of the event (Stripe `created`), the basis of order-safe projections
  provider_created_at timestamptz,
  payload jsonb NOT NULL,
  -- the exact bytes that were signed, kept for audit, re-verification and byte-identical forwarding
  raw_body text NOT NULL,
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- a worker's claim; reclaimable once locked_until has passed (the worker died)
  locked_until timestamptz,
  locked_by text,
  error text,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  UNIQUE (workspace_id, provider, provider_event_id)
);
CREATE INDEX events_due ON events (next_attempt_at) WHERE status = 'received';
CREATE INDEX events_workspace_id ON events (workspace_id, id DESC);
CREATE INDEX events_workspace_status ON events (workspace_id, provider, status);

CREATE TABLE inbound_rejections (
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  reason text NOT NULL,
  count int NOT NULL DEFAULT 0,
  first_at timestamptz NOT NULL DEFAULT now(),
  last_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, provider, reason)
);
