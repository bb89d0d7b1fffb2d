-- SMTP settings of a workspace, for the email steps of its workflows. The password is sealed with the master key
-- like the other credentials and never returned; everything else is shown by GET …/settings/email.
CREATE TABLE email_settings (
  workspace_id text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  host text NOT NULL,
  port int NOT NULL,
  -- tls: TLS from the first byte (port 465); starttls: plain, then upgraded and required (587, 25); none: never encrypted
  security text NOT NULL CHECK (security IN ('tls', 'starttls', 'none')),
  username text,
  password_sealed text,
  from_address text NOT NULL,
  reply_to text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
