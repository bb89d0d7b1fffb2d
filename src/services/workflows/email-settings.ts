// GET | PUT | DELETE …/settings/email: the SMTP server a workspace's email steps send through. The password is
// sealed with the master key like the other credentials and never returned (the view says whether one is
// stored); a PUT without it keeps the stored one. Changes are audited with the fields that changed, the password
// only as set / kept / removed.
import { deleteEmailSettings, findEmailSettings, saveEmailSettings, type EmailSettingsRow } from '../../db/queries/email-settings.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { NotFoundError, UnprocessableError, WorkspaceNotFoundError } from '../../errors.js';
import { SealedSecretUnreadable } from '../../lib/secret-box.js';
import { parseSmtpSettings } from '../../outbound/smtp-settings.js';
import type { SmtpServer } from '../../outbound/smtp.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';

export interface EmailSettingsView {
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  user: string | null;
  passwordSet: boolean;
  from: string;
  replyTo: string | null;
  createdAt: string;
  updatedAt: string;
}

export function emailSettingsView(row: EmailSettingsRow): EmailSettingsView {
  return {
    host: row.host,
    port: row.port,
    security: row.security,
    user: row.user,
    passwordSet: row.passwordSealed !== null,
    from: row.from,
    replyTo: row.replyTo,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export const noEmailSettingsMessage = (workspaceId: string) =>
  `no SMTP settings for this workspace: PUT /api/v1/workspaces/${workspaceId}/settings/email {host, port, security, user, password, from}`;

class EmailSettingsNotFoundError extends NotFoundError {
  constructor(workspaceId: string) {
    super('EMAIL_SETTINGS_NOT_FOUND', noEmailSettingsMessage(workspaceId));
  }
}

async function requireWorkspace(ctx: Ctx, workspaceId: string): Promise<void> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
}

export async function getEmailSettings(ctx: Ctx, workspaceId: string): Promise<EmailSettingsView> {
  await requireWorkspace(ctx, workspaceId);
  const row = await findEmailSettings(ctx.db, workspaceId);
  if (!row) throw new EmailSettingsNotFoundError(workspaceId);
  return emailSettingsView(row);
}

/** The view, or null when the workspace has none (the console shows an empty form). */
export async function findEmailSettingsView(ctx: Ctx, workspaceId: string): Promise<EmailSettingsView | null> {
  const row = await findEmailSettings(ctx.db, workspaceId);
  return row ? emailSettingsView(row) : null;
}

export async function putEmailSettings(ctx: Ctx, workspaceId: string, body: unknown, actor: Actor): Promise<EmailSettingsView> {
  await requireWorkspace(ctx, workspaceId);
  return ctx.db.transaction(async (tx) => {
    const before = await findEmailSettings(tx, workspaceId, true);
    const parsed = parseSmtpSettings(body, { passwordSet: before?.passwordSealed != null });
    if (!parsed.ok) {
      const n = parsed.problems.length;
      throw new UnprocessableError(
        'VALIDATION_FAILED',
        `the SMTP settings have ${n} problem${n === 1 ? '' : 's'}: ${parsed.problems
          .slice(0, 5)
          .map((p) => `${p.path || 'body'}: ${p.message}`)
          .join('; ')}${n > 5 ? '; …' : ''}; nothing was saved`,
        { problems: parsed.problems },
      );
    }
    const s = parsed.settings;
    const passwordSealed =
      s.password === undefined ? (before?.passwordSealed ?? null) : s.password === null ? null : ctx.secretBox.seal(s.password);
    const saved = await saveEmailSettings(tx, {
      workspaceId,
      host: s.host,
      port: s.port,
      security: s.security,
      user: s.user,
      passwordSealed,
      from: s.from,
      replyTo: s.replyTo,
    });
    const changed = (['host', 'port', 'security', 'user', 'from', 'replyTo'] as const).filter((k) => !before || before[k] !== saved[k]);
    const password = passwordSealed === null ? (before?.passwordSealed ? 'removed' : 'none') : s.password === undefined ? 'kept' : 'set';
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'email.settings.saved', workspaceId, {
      changed,
      password,
      host: saved.host,
      port: saved.port,
      security: saved.security,
    });
    ctx.log.info({ workspaceId, host: saved.host, port: saved.port, security: saved.security, changed, password }, 'SMTP settings saved');
    return emailSettingsView(saved);
  });
}

export async function removeEmailSettings(ctx: Ctx, workspaceId: string, actor: Actor): Promise<void> {
  await requireWorkspace(ctx, workspaceId);
  await ctx.db.transaction(async (tx) => {
    if (!(await deleteEmailSettings(tx, workspaceId))) throw new EmailSettingsNotFoundError(workspaceId);
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, actor, workspaceId, 'email.settings.removed', workspaceId);
  });
  ctx.log.info({ workspaceId }, 'SMTP settings removed');
}

export type SmtpSettingsLookup = { ok: true; server: SmtpServer; from: string; replyTo: string | null } | { ok: false; error: string };

/** The settings an email step sends with, the password opened; an explanation when there are none usable. */
export async function smtpSettingsOf(ctx: Ctx, workspaceId: string): Promise<SmtpSettingsLookup> {
  const row = await findEmailSettings(ctx.db, workspaceId);
  if (!row) return { ok: false, error: noEmailSettingsMessage(workspaceId) };
  let password: string | null = null;
  if (row.passwordSealed !== null) {
    try {
      password = ctx.secretBox.open(row.passwordSealed);
    } catch (err) {
      if (!(err instanceof SealedSecretUnreadable)) throw err;
      return {
        ok: false,
        error:
          'the stored SMTP password cannot be decrypted with the current master key (SLUICE_SECRET_KEY or secret.key changed); ' +
          `PUT /api/v1/workspaces/${workspaceId}/settings/email again with the password`,
      };
    }
  }
  return {
    ok: true,
    server: { host: row.host, port: row.port, security: row.security, user: row.user, password },
    from: row.from,
    replyTo: row.replyTo,
  };
}
