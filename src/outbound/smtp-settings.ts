// The SMTP settings of a workspace (PUT …/settings/email), checked as a whole: every problem is listed with the
// field it is in, and nothing is kept of a body with any problem. Pure. Problems never quote the password.
import { isIP } from 'node:net';
import { addressProblem } from './email-address.js';

export const SMTP_SECURITY = ['tls', 'starttls', 'none'] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

export interface SmtpSettingsInput {
  host: string;
  port: number;
  security: SmtpSecurity;
  user: string | null;
  /** undefined: keep the stored password; null: remove it. */
  password: string | null | undefined;
  from: string;
  replyTo: string | null;
}

export interface Problem {
  path: string;
  message: string;
}

const FIELDS = ['host', 'port', 'security', 'user', 'password', 'from', 'replyTo'];
/** Fields of the GET answer: a view PUT back as it is (perhaps edited) is accepted. */
export const READ_ONLY_FIELDS = ['passwordSet', 'createdAt', 'updatedAt'];
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Port 465 is SMTP over TLS (RFC 8314); every other port starts in plain text and is upgraded with STARTTLS. */
export function defaultSecurity(port: number): SmtpSecurity {
  return port === 465 ? 'tls' : 'starttls';
}

export function defaultPort(security: SmtpSecurity): number {
  return security === 'tls' ? 465 : security === 'starttls' ? 587 : 25;
}

export function parseSmtpSettings(
  body: unknown,
  stored: { passwordSet: boolean },
): { ok: true; settings: SmtpSettingsInput } | { ok: false; problems: Problem[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      problems: [{ path: '', message: 'the body is a JSON object {host, port, security, user, password, from, replyTo}' }],
    };
  }
  const b = body as Record<string, unknown>;
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  for (const k of Object.keys(b)) {
    if (!FIELDS.includes(k) && !READ_ONLY_FIELDS.includes(k)) add(k, `unknown field "${k}"; the settings are ${FIELDS.join(', ')}`);
  }

  let host = '';
  if (typeof b.host !== 'string' || b.host.trim() === '') add('host', 'host is required: the name or IP address of the SMTP server');
  else {
    host = b.host.trim();
    const bare = host.replace(/^\[|\]$/g, '');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) add('host', 'host is a name or an address, without a scheme (smtp.example.com)');
    else if (!isIP(bare) && !HOSTNAME.test(host))
      add('host', `${JSON.stringify(host)} is not a host name or IP address; give the port in port, not in host`);
    else host = bare;
  }

  let port: number | undefined;
  if (b.port !== undefined && b.port !== null) {
    if (typeof b.port !== 'number' || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535)
      add('port', 'port is a whole number from 1 to 65535 (465 for TLS, 587 for STARTTLS, 25 for a relay)');
    else port = b.port;
  }
  let security: SmtpSecurity | undefined;
  if (b.security !== undefined && b.security !== null) {
    if (!(SMTP_SECURITY as readonly unknown[]).includes(b.security))
      add('security', `security is ${SMTP_SECURITY.join(', ')} (tls: encrypted from the start, port 465; starttls: upgraded, port 587)`);
    else security = b.security as SmtpSecurity;
  }
  const effectivePort = port ?? defaultPort(security ?? 'starttls');
  const effectiveSecurity = security ?? defaultSecurity(effectivePort);

  let user: string | null = null;
  if (b.user !== undefined && b.user !== null && b.user !== '') {
    if (typeof b.user !== 'string' || b.user.length > 256 || /[\r\n\0]/.test(b.user))
      add('user', 'user is a string of at most 256 characters, one line');
    else user = b.user;
  }
  let password: string | null | undefined;
  if (b.password === null) password = null;
  else if (b.password !== undefined) {
    if (typeof b.password !== 'string' || b.password === '' || b.password.length > 1024 || /[\r\n\0]/.test(b.password))
      add('password', 'password is a string of 1 to 1024 characters, one line (null removes the stored one)');
    else password = b.password;
  }
  const willHavePassword = password === undefined ? stored.passwordSet : password !== null;
  if (user !== null && !willHavePassword && !problems.some((p) => p.path === 'password'))
    add('password', 'user is set but no password is stored: give password too');
  if (user === null && typeof password === 'string') add('user', 'a password is given but no user: give user too');

  let from = '';
  if (b.from === undefined || b.from === null || b.from === '')
    add('from', 'from is required: the sender address of the emails (Name <box@example.com>)');
  else {
    const problem = addressProblem(b.from);
    if (problem) add('from', `from ${problem}`);
    else from = (b.from as string).trim();
  }
  let replyTo: string | null = null;
  if (b.replyTo !== undefined && b.replyTo !== null && b.replyTo !== '') {
    const problem = addressProblem(b.replyTo);
    if (problem) add('replyTo', `replyTo ${problem}`);
    else replyTo = (b.replyTo as string).trim();
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      host,
      port: effectivePort,
      security: effectiveSecurity,
      user,
      // No user, no login: a stored password would be kept for nothing.
      password: user === null ? null : password,
      from,
      replyTo,
    },
  };
}
