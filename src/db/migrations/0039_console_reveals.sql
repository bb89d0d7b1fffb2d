-- Values the console shows once (a new API key, a new member's set-password link, an endpoint's signing secret just
-- revealed or rotated), kept from the form's POST to the one GET it redirects to (POST/redirect/GET: a reload of that
-- page is a GET, never the form again). The value is sealed with the master key like any stored credential, bound to
-- the session that made it (gone with it: sign-out, expiry, the user deleted), taken by deleting the row (shown
-- once, whichever instance answers the GET) and kept five minutes at most; the address holds only a random id,
-- stored here as its hash.
CREATE TABLE console_reveals (
  id_hash text PRIMARY KEY,
  session_hash text NOT NULL REFERENCES user_sessions (token_hash) ON DELETE CASCADE,
  -- what it is ('api-key', 'member-link', 'endpoint-secret') and the page it is shown on (a workspace, an endpoint)
  kind text NOT NULL,
  scope text NOT NULL,
  sealed text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX console_reveals_session ON console_reveals (session_hash);
CREATE INDEX console_reveals_expiry ON console_reveals (expires_at);
