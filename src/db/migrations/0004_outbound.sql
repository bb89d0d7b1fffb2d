-- Outbound webhooks: endpoints (and REST Hooks subscriptions, which are endpoints created by Zapier, Make or
-- n8n), one delivery per message and endpoint, every attempt, and incidents. The deliveries table is the
-- outbound queue: due rows are claimed with FOR UPDATE SKIP LOCKED, like events.
CREATE TABLE endpoints (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- 'endpoint' (created by a person), 'hook' (a REST Hooks subscription, removed when the target answers 410)
  -- or 'forward' (a Piano proxy destination: gets each Piano webhook as Piano sent it, not a signed message)
  kind text NOT NULL DEFAULT 'endpoint' CHECK (kind IN ('endpoint', 'hook', 'forward')),
  url text NOT NULL,
  description text,
  -- exact names and 'prefix.*'; empty means every type
  event_types text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  -- deliveries per second; null means unlimited
  rate_limit int,
  headers jsonb NOT NULL DEFAULT '{}',
  -- sealed JSON list of {secret, expiresAt}: the current secret, and the previous one for 24 h after a rotation
  secrets_sealed text NOT NULL,
  -- set by the first failure after a success; cleared by a success. Failing for 5 days disables the endpoint.
  failing_since timestamptz,
  last_success_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_workspace ON endpoints (workspace_id, id DESC);

CREATE TABLE deliveries (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz,
  locked_by text,
  last_status_code int,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (endpoint_id, message_id)
);
-- the claim walks enabled endpoints and takes each one's earliest due deliveries, so a backlog at one
-- endpoint costs the others nothing
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
-- deliveries held by a sender right now, counted against the endpoint's concurrency
CREATE INDEX deliveries_in_flight ON deliveries (endpoint_id) WHERE locked_by IS NOT NULL;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id DESC);
CREATE INDEX deliveries_message ON deliveries (message_id);

CREATE TABLE delivery_attempts (
  id text PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL,
  duration_ms int NOT NULL,
  -- null when no answer came (timeout, refused connection, blocked address)
  status_code int,
  -- the first 4 KiB of the answer
  response_excerpt text,
  error text,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed', 'gone'))
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, started_at);
CREATE INDEX delivery_attempts_endpoint ON delivery_attempts (endpoint_id, started_at DESC);

CREATE TABLE incidents (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  endpoint_id text REFERENCES endpoints (id) ON DELETE SET NULL,
  kind text NOT NULL,
  detail text NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);
CREATE INDEX incidents_workspace ON incidents (workspace_id, opened_at DESC);
