-- The console: people who sign in, their sessions, the one-time links that set a password, and the audit log of
-- what was done to credentials and settings (by a person, an API key or the admin token).

CREATE TABLE users (
  id text PRIMARY KEY,
  -- stored as typed; unique and looked up case-insensitively
  email text NOT NULL,
  -- scrypt$N$r$p$salt$hash (base64url); NULL until the one-time link is used
  password_hash text,
  role text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
  -- the workspaces the user may open; NULL means every workspace
  workspaces text[],
  created_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- A signed-in browser. The cookie carries a random token (and its MAC); only the token's hash is stored here.
CREATE TABLE user_sessions (
  token_hash text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- the synchronizer token every form and htmx request of this session sends back
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- sliding: pushed forward (at most once a minute) while the session is used
  expires_at timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);

-- One-time links: the first admin's setup link and the "set your password" link of a new user.
CREATE TABLE user_links (
  token_hash text PRIMARY KEY,
  -- NULL for the first-start setup link (it creates the user)
  user_id text REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('setup', 'set_password')),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);

-- Who revealed, rotated or changed which credential or setting, and when. Never the secret itself.
CREATE TABLE audit_log (
  id text PRIMARY KEY,
  -- NULL for instance-wide actions (users)
  workspace_id text REFERENCES workspaces (id) ON DELETE CASCADE,
  -- 'user:<id>', 'key:<id>' or 'admin'
  actor text NOT NULL,
  -- the actor's email for users, kept so the log still reads after the user is deleted
  actor_label text,
  action text NOT NULL,
  -- what was acted on: an endpoint id, 'stripe', a user id...
  target text,
  detail jsonb NOT NULL DEFAULT '{}',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id DESC);
