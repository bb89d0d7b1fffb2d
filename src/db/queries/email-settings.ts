// The SMTP settings of each workspace (email steps of workflows). The password is stored sealed.
import type { Queryable } from '../port.js';

export interface EmailSettingsRow {
  workspaceId: string;
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  user: string | null;
  passwordSealed: string | null;
  from: string;
  replyTo: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `workspace_id AS "workspaceId", host, port, security, username AS "user", password_sealed AS "passwordSealed",
  from_address AS "from", reply_to AS "replyTo", created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function findEmailSettings(db: Queryable, workspaceId: string, lock = false): Promise<EmailSettingsRow | undefined> {
  const { rows } = await db.query<EmailSettingsRow>(
    `SELECT ${COLUMNS} FROM email_settings WHERE workspace_id = $1${lock ? ' FOR UPDATE' : ''}`,
    [workspaceId],
  );
  return rows[0];
}

export async function saveEmailSettings(db: Queryable, s: Omit<EmailSettingsRow, 'createdAt' | 'updatedAt'>): Promise<EmailSettingsRow> {
  const { rows } = await db.query<EmailSettingsRow>(
    `INSERT INTO email_settings (workspace_id, host, port, security, username, password_sealed, from_address, reply_to)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (workspace_id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port, security = EXCLUDED.security,
       username = EXCLUDED.username, password_sealed = EXCLUDED.password_sealed, from_address = EXCLUDED.from_address,
       reply_to = EXCLUDED.reply_to, updated_at = now()
     RETURNING ${COLUMNS}`,
    [s.workspaceId, s.host, s.port, s.security, s.user, s.passwordSealed, s.from, s.replyTo],
  );
  return rows[0]!;
}

export async function deleteEmailSettings(db: Queryable, workspaceId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM email_settings WHERE workspace_id = $1', [workspaceId]);
  return rowCount === 1;
}
