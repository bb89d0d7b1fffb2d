-- The CRM: one row per provider object, keyed by (workspace, provider, provider id).
-- Order safety: every row remembers the version of the event that last wrote it — (source_ts, source_rank,
-- source_event_id), compared as a tuple — and only a strictly greater version may overwrite it. A deleted
-- row is a tombstone that only another delete may touch. A row created because something referenced an
-- object we had not seen yet is a stub (source_ts NULL) that any real event overwrites.

CREATE TABLE customers (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  email text,
  name text,
  phone text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);
CREATE INDEX customers_email ON customers (workspace_id, lower(email));

CREATE TABLE products (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  name text,
  description text,
  active boolean,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);

CREATE TABLE prices (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  product_provider_id text,
  nickname text,
  lookup_key text,
  unit_amount bigint,
  currency text,
  recurring_interval text,
  recurring_interval_count int,
  active boolean,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);

CREATE TABLE subscriptions (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  customer_id text REFERENCES customers (id) ON DELETE SET NULL,
  status text,
  price_provider_id text,
  product_provider_id text,
  plan_name text,
  quantity int,
  items jsonb NOT NULL DEFAULT '[]'::jsonb,
  current_period_start timestamptz,
  current_period_end timestamptz,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  cancel_at timestamptz,
  canceled_at timestamptz,
  ended_at timestamptz,
  trial_start timestamptz,
  trial_end timestamptz,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id);
CREATE INDEX subscriptions_status ON subscriptions (workspace_id, status);

CREATE TABLE invoices (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  customer_id text REFERENCES customers (id) ON DELETE SET NULL,
  subscription_provider_id text,
  number text,
  status text,
  billing_reason text,
  currency text,
  amount_due bigint,
  amount_paid bigint,
  amount_remaining bigint,
  total bigint,
  attempt_count int,
  paid_at timestamptz,
  period_start timestamptz,
  period_end timestamptz,
  hosted_invoice_url text,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);
CREATE INDEX invoices_customer ON invoices (customer_id);

-- payment intents, charges, refunds and disputes, told apart by kind
CREATE TABLE payments (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  kind text NOT NULL,
  customer_id text REFERENCES customers (id) ON DELETE SET NULL,
  invoice_provider_id text,
  payment_intent_provider_id text,
  charge_provider_id text,
  status text,
  amount bigint,
  amount_refunded bigint,
  currency text,
  failure_message text,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);
CREATE INDEX payments_customer ON payments (customer_id);

CREATE TABLE checkout_sessions (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  customer_id text REFERENCES customers (id) ON DELETE SET NULL,
  mode text,
  status text,
  payment_status text,
  subscription_provider_id text,
  payment_intent_provider_id text,
  amount_total bigint,
  currency text,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);

-- what a customer may use: Stripe entitlements (resource = feature lookup key), Piano access later
CREATE TABLE access (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider text NOT NULL,
  -- (customer provider id, resource) for Stripe; Piano's access id later
  provider_id text NOT NULL,
  customer_id text REFERENCES customers (id) ON DELETE SET NULL,
  resource text NOT NULL,
  provider_access_id text,
  status text NOT NULL,
  granted_at timestamptz,
  revoked_at timestamptz,
  expires_at timestamptz,
  deleted boolean NOT NULL DEFAULT false,
  stub boolean NOT NULL DEFAULT false,
  source_ts timestamptz,
  source_rank int NOT NULL DEFAULT 0,
  source_event_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, provider_id)
);
CREATE INDEX access_customer ON access (customer_id);

-- the customer timeline: every stored event that touched a customer
CREATE TABLE customer_events (
  customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  event_id text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  PRIMARY KEY (customer_id, event_id)
);

-- business, raw provider and custom events as published (the outbound issue delivers them)
CREATE TABLE messages (
  id text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  type text NOT NULL,
  data jsonb NOT NULL,
  source_provider text,
  source_event_id text,
  -- one message per fact: the same fact derived twice (replay, redelivery) hits this key
  dedupe_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, dedupe_key)
);
CREATE INDEX messages_workspace ON messages (workspace_id, id DESC);
