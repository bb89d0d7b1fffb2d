// The email of an `email` step, from its rendered (frozen) input and the workspace's SMTP defaults: recipients
// checked once their templates are rendered, the sender and reply-to filled in, and the Message-ID that stays the
// same on every attempt and on a retried run (`<runId.stepId@sender's domain>`), so a repeat after a lost reply
// can be recognised for what it is. Pure.
import { addressProblem, domainOf } from '../outbound/email-address.js';
import type { OutgoingEmail } from '../outbound/smtp.js';

export const EMAIL_LIMITS = {
  /** to, cc and bcc together. */
  maxRecipients: 50,
  maxSubjectLength: 998,
} as const;

/** The fields an email step may have besides the common ones. */
export const EMAIL_FIELDS = { required: ['to', 'subject'], optional: ['text', 'html', 'cc', 'bcc', 'replyTo', 'from'] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class EmailInputError extends Error {}

/** `<run.step@domain>`, the same on every attempt and retry; a step executed again by a rerun from a step gets
 *  `<run.step.attempt@domain>`, a new message (mail clients hide a second message with a Message-ID they have). */
export function emailMessageId(runId: string, stepId: string, from: string, rerun?: number | null): string {
  return `<${runId}.${stepId}${rerun ? `.${rerun}` : ''}@${domainOf(from) ?? 'sluice.invalid'}>`;
}

/** A recipient field as rendered: one address, or a list (a template may give either). */
function recipients(value: unknown, field: string, required: boolean): string[] {
  if (value === undefined || value === null || (!required && value === '')) {
    if (required) throw new EmailInputError(`${field} rendered to nothing; an email needs at least one recipient`);
    return [];
  }
  const list = Array.isArray(value) ? value : [value];
  if (required && list.length === 0) throw new EmailInputError(`${field} rendered to an empty list; an email needs at least one recipient`);
  return list.map((a, i) => {
    const problem = addressProblem(a);
    if (problem) throw new EmailInputError(`${Array.isArray(value) ? `${field}[${i}]` : field}: ${problem}`);
    return (a as string).trim();
  });
}

function optionalAddress(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  const problem = addressProblem(value);
  if (problem) throw new EmailInputError(`${field}: ${problem}`);
  return (value as string).trim();
}

const asText = (v: unknown): string | null =>
  v === undefined || v === null ? null : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** The email to send; throws EmailInputError with the field at fault when a rendered value is not usable. */
export function buildEmail(
  input: unknown,
  defaults: { from: string; replyTo: string | null },
  ids: { runId: string; stepId: string; rerun?: number | null },
): OutgoingEmail {
  const i = isObj(input) ? input : {};
  const to = recipients(i.to, 'to', true);
  const cc = recipients(i.cc, 'cc', false);
  const bcc = recipients(i.bcc, 'bcc', false);
  if (to.length + cc.length + bcc.length > EMAIL_LIMITS.maxRecipients)
    throw new EmailInputError(
      `${to.length + cc.length + bcc.length} recipients; an email step sends to at most ${EMAIL_LIMITS.maxRecipients}`,
    );
  const from = optionalAddress(i.from, 'from') ?? defaults.from;
  const replyTo = optionalAddress(i.replyTo, 'replyTo') ?? defaults.replyTo;
  // A header is one line: a line break rendered into the subject becomes a space, never a new header.
  const subject = (asText(i.subject) ?? '').replace(/[\r\n]+\s*/g, ' ').trim();
  if (subject === '') throw new EmailInputError('subject rendered to nothing');
  if (subject.length > EMAIL_LIMITS.maxSubjectLength)
    throw new EmailInputError(`subject is longer than ${EMAIL_LIMITS.maxSubjectLength} characters`);
  const text = asText(i.text);
  const html = asText(i.html);
  if (text === null && html === null) throw new EmailInputError('text and html rendered to nothing; an email needs a body');
  return { from, to, cc, bcc, replyTo, subject, text, html, messageId: emailMessageId(ids.runId, ids.stepId, from, ids.rerun) };
}

const EXCERPT = 500;
const excerpt = (s: string | null) => (s === null ? null : s.length > EXCERPT ? `${s.slice(0, EXCERPT)}…` : s);

/** What a dry run shows of an email: the envelope in full, the bodies' first characters. */
export function emailPreview(email: OutgoingEmail) {
  return {
    from: email.from,
    to: email.to,
    ...(email.cc.length ? { cc: email.cc } : {}),
    ...(email.bcc.length ? { bcc: email.bcc } : {}),
    ...(email.replyTo ? { replyTo: email.replyTo } : {}),
    subject: email.subject,
    text: excerpt(email.text),
    html: excerpt(email.html),
    messageId: email.messageId,
  };
}
