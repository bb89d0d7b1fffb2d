// A local SMTP server standing in for a workspace's mail relay (smtp-server, by nodemailer's authors): it records
// every login and every message it is handed, and answers what the test asks (a 451 the first times, a 550 for
// one recipient). Plain text on loopback, logins allowed without TLS.
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  mailFrom: string;
  rcptTo: string[];
  raw: string;
  /** Headers by lower-case name (folded lines joined). */
  headers: Record<string, string>;
  /** Whether the server accepted it (a message answered 451 is recorded too). */
  accepted: boolean;
}

export interface SmtpBehaviour {
  /** Reply code to refuse a recipient with (e.g. 550), or null to accept it. */
  rcpt?: (address: string) => number | null;
  /** Reply code to refuse the n-th message (1-based) with after its data (e.g. 451), or null to accept it. */
  data?: (n: number) => number | null;
  /** Logins the server accepts; none: no login needed. */
  login?: { user: string; password: string };
}

export interface SmtpTestServer {
  port: number;
  mails: ReceivedMail[];
  logins: { user: string; ok: boolean }[];
  close(): Promise<void>;
}

export function parseHeaders(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const out: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

export async function startSmtpServer(behaviour: SmtpBehaviour = {}): Promise<SmtpTestServer> {
  const mails: ReceivedMail[] = [];
  const logins: { user: string; ok: boolean }[] = [];
  let messages = 0;
  const refuse = (code: number) => Object.assign(new Error(code >= 500 ? 'Recipient refused' : 'Try again later'), { responseCode: code });
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !behaviour.login,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      const ok = !!behaviour.login && auth.username === behaviour.login.user && auth.password === behaviour.login.password;
      logins.push({ user: auth.username ?? '', ok });
      if (!ok) return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      const code = behaviour.rcpt?.(address.address) ?? null;
      callback(code === null ? null : refuse(code));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages += 1;
        const code = behaviour.data?.(messages) ?? null;
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers: parseHeaders(raw),
          accepted: code === null,
        });
        callback(code === null ? null : refuse(code));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    port: address.port,
    mails,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
