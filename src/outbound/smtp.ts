// One email handed to a workspace's SMTP server (nodemailer, one connection per message: email steps are rare
// next to webhooks, and a pooled connection would hold a socket to every workspace's relay). Outcomes are values,
// never exceptions, judged the way SMTP means them: a 2xx reply is delivery, a 4xx reply or no reply (refused,
// reset, timed out, TLS failed) is worth another attempt, a 5xx reply is final (except 503, a session that was in
// the wrong state, which a new connection may not be).
//
// - The host goes through the outbound address policy like a webhook URL: a name is resolved here, every answer
//   judged, and the connection made to the address judged (the name kept for TLS: SNI and the certificate check),
//   so a relay on a private or loopback address must be listed in SLUICE_OUTBOUND_ALLOW.
// - Nothing waits forever: connecting, the greeting and every reply have `timeoutMs` each, the whole conversation
//   four times that; then the attempt fails as a timeout and the worker's slot is free.
// - The password reaches nodemailer's AUTH command only; any text kept from the conversation (a reply, an error)
//   is scrubbed of it, raw and base64-encoded, before it is returned. nodemailer's logger stays off.
import dns from 'node:dns';
import { isIP } from 'node:net';
import type nodemailerModule from 'nodemailer';

// Loaded on the first email: most instances never send one, and nodemailer is a good part of a server's memory.
let mailer: Promise<typeof nodemailerModule> | undefined;
const loadMailer = () => (mailer ??= import('nodemailer').then((m) => m.default));
import type { AddressPolicy } from './address-policy.js';
import type { Resolve } from './send.js';
import { storableText } from './send.js';
import type { SmtpSecurity } from './smtp-settings.js';

export interface SmtpServer {
  host: string;
  port: number;
  security: SmtpSecurity;
  user: string | null;
  password: string | null;
}

export interface OutgoingEmail {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  subject: string;
  text: string | null;
  html: string | null;
  /** `<…@…>`, the same on every attempt, so a receiver (or a person) can recognise a repeat. */
  messageId: string;
}

export type SmtpResult =
  | {
      ok: true;
      /** The reply code of the final reply (250), null when the reply had none. */
      code: number | null;
      response: string;
      accepted: string[];
      rejected: string[];
      messageId: string;
      durationMs: number;
    }
  | {
      ok: false;
      code: number | null;
      /** The server's reply, when the failure was one. */
      response: string | null;
      error: string;
      /** Worth another attempt: a 4xx reply, no reply, a timeout. */
      transient: boolean;
      /** The address policy refused the host. */
      blocked: boolean;
      durationMs: number;
    };

export interface SmtpOptions {
  policy: AddressPolicy;
  /** Each phase: connecting, the greeting, every reply. */
  timeoutMs: number;
  resolve?: Resolve;
}

const systemResolve: Resolve = (hostname, family) => dns.promises.lookup(hostname, { all: true, family });

/** Failures with no SMTP reply that another attempt may get past. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'EABORT', 'ABORT_ERR']);

/** The leading reply code of an SMTP reply ("451 4.7.1 Try again later" → 451). */
export function replyCode(response: string | undefined | null): number | null {
  const m = response ? /^([2-5]\d\d)[\s-]/.exec(response) : null;
  return m ? Number(m[1]) : null;
}

export function isTransientReply(code: number): boolean {
  return code < 500 || code === 503;
}

/** A copy of `text` without the password, as written or as it travels in AUTH PLAIN / LOGIN. */
export function scrubPassword(text: string, server: Pick<SmtpServer, 'user' | 'password'>): string {
  const p = server.password;
  if (!p) return text;
  const forms = [p, Buffer.from(p).toString('base64'), Buffer.from(`\0${server.user ?? ''}\0${p}`).toString('base64')];
  let out = text;
  for (const f of forms) if (f.length >= 3) out = out.split(f).join('[password]');
  return out;
}

export async function sendEmail(server: SmtpServer, email: OutgoingEmail, opts: SmtpOptions): Promise<SmtpResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const blocked = (error: string): SmtpResult => ({
    ok: false,
    code: null,
    response: null,
    error: `blocked: ${error}`,
    transient: false,
    blocked: true,
    durationMs: elapsed(),
  });

  // The address to connect to, judged by the policy before any byte is sent.
  let address: string;
  const literal = isIP(server.host) !== 0;
  if (literal) {
    const why = opts.policy.refuse(server.host);
    if (why) return blocked(why);
    address = server.host;
  } else {
    let answers: { address: string; family: number }[];
    try {
      answers = await (opts.resolve ?? systemResolve)(server.host, 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return {
        ok: false,
        code: null,
        response: null,
        error: `${server.host} did not resolve${code ? ` (${code})` : ''}`,
        // A name that does not exist is a typo in the settings, not something time fixes.
        transient: code !== 'ENOTFOUND',
        blocked: false,
        durationMs: elapsed(),
      };
    }
    for (const a of answers) {
      const why = opts.policy.refuse(a.address);
      if (why) return blocked(`${server.host} resolves to ${why}`);
    }
    if (!answers[0])
      return {
        ok: false,
        code: null,
        response: null,
        error: `${server.host} did not resolve`,
        transient: true,
        blocked: false,
        durationMs: elapsed(),
      };
    address = answers[0].address;
  }

  const transport = (await loadMailer()).createTransport({
    host: address,
    port: server.port,
    ...(literal ? {} : { servername: server.host }),
    secure: server.security === 'tls',
    requireTLS: server.security === 'starttls',
    ignoreTLS: server.security === 'none',
    ...(server.user !== null && server.password !== null ? { auth: { user: server.user, pass: server.password } } : {}),
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
    dnsTimeout: opts.timeoutMs,
    logger: false,
    debug: false,
    // The bodies are text rendered from events: never a path or URL for nodemailer to read.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const deadline = AbortSignal.timeout(opts.timeoutMs * 4);
  try {
    const info = await transport.sendMail({
      from: email.from,
      to: email.to,
      ...(email.cc.length ? { cc: email.cc } : {}),
      ...(email.bcc.length ? { bcc: email.bcc } : {}),
      ...(email.replyTo ? { replyTo: email.replyTo } : {}),
      subject: email.subject,
      ...(email.text !== null ? { text: email.text } : {}),
      ...(email.html !== null ? { html: email.html } : {}),
      messageId: email.messageId,
      disableFileAccess: true,
      disableUrlAccess: true,
      signal: deadline,
    });
    const response = storableText(scrubPassword(String(info.response ?? ''), server));
    return {
      ok: true,
      code: replyCode(response),
      response,
      accepted: (info.accepted ?? []).map(String),
      rejected: (info.rejected ?? []).map(String),
      messageId: info.messageId ?? email.messageId,
      durationMs: elapsed(),
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { response?: string; responseCode?: number };
    const response = e.response ? storableText(scrubPassword(e.response, server)) : null;
    const code = typeof e.responseCode === 'number' ? e.responseCode : replyCode(response);
    const aborted = deadline.aborted;
    const message = aborted
      ? `the SMTP conversation took longer than ${opts.timeoutMs * 4} ms`
      : storableText(scrubPassword(`${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`, server));
    return {
      ok: false,
      code,
      response,
      error: message,
      transient: aborted || (code !== null ? isTransientReply(code) : TRANSIENT_CODES.has(e.code ?? '')),
      blocked: false,
      durationMs: elapsed(),
    };
  } finally {
    transport.close();
  }
}
