// One attempt of an `email` step: at least once, like http. The rendered input and the Message-ID are frozen
// before the first send (a crash after the send sends the same message again, with the same Message-ID), then the
// message goes to the workspace's SMTP server and the attempt is recorded with the reply code, the time it took
// and the server's reply. 4xx replies and no reply are retried on the step's policy; 5xx replies fail at once.
// A workspace without SMTP settings fails the step at once (retry the run once they are saved).
import { newId } from '../../lib/ids.js';
import { createAddressPolicy } from '../../outbound/address-policy.js';
import { sendEmail } from '../../outbound/smtp.js';
import { buildEmail, EmailInputError } from '../../workflows/email.js';
import type { Ctx } from '../context.js';
import { smtpSettingsOf } from './email-settings.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface EmailAttempt {
  id: string;
  stepRowId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  excerpt: string | null;
  error: string | null;
  ok: boolean;
}

export type EmailStepResult =
  | { kind: 'sent'; output: { messageId: string; accepted: string[]; rejected: string[]; response: string }; attempt: EmailAttempt }
  | { kind: 'failed'; error: string; permanent: boolean; attempt?: EmailAttempt; input?: unknown };

const EXCERPT = 2000;

export async function runEmailStep(
  ctx: Ctx,
  step: { runId: string; workspaceId: string; stepId: string; stepRowId: string; attempt: number; frozen: boolean; rerun: number | null },
  input: unknown,
  freeze: (input: unknown) => Promise<unknown>,
): Promise<EmailStepResult> {
  const settings = await smtpSettingsOf(ctx, step.workspaceId);
  if (!settings.ok) return { kind: 'failed', error: settings.error, permanent: true };

  let email;
  try {
    email = buildEmail(input, settings, { runId: step.runId, stepId: step.stepId, rerun: step.rerun });
  } catch (err) {
    if (!(err instanceof EmailInputError)) throw err;
    // The rendered input is kept, so the run shows what the templates gave.
    return { kind: 'failed', error: err.message, permanent: true, ...(step.frozen ? {} : { input }) };
  }
  // The Message-ID is frozen with the input: a later change of the sender in the settings does not change it.
  const frozenId = isObj(input) && typeof input.messageId === 'string' ? input.messageId : null;
  if (frozenId) email.messageId = frozenId;
  else {
    const frozen = await freeze({ ...(isObj(input) ? input : {}), messageId: email.messageId });
    if (isObj(frozen) && typeof frozen.messageId === 'string') email.messageId = frozen.messageId;
  }

  const startedAt = new Date(ctx.now());
  const res = await sendEmail(settings.server, email, {
    policy: createAddressPolicy(ctx.config.outboundAllow),
    timeoutMs: ctx.config.outboundTimeoutMs,
  });
  const excerpt = res.ok ? res.response.slice(0, EXCERPT) : res.response ? res.response.slice(0, EXCERPT) : null;
  const attempt: EmailAttempt = {
    id: newId('wsa', ctx.now()),
    stepRowId: step.stepRowId,
    attempt: step.attempt,
    startedAt,
    durationMs: res.durationMs,
    statusCode: res.code,
    excerpt,
    error: res.ok ? null : res.error,
    ok: res.ok,
  };
  if (res.ok) {
    return {
      kind: 'sent',
      output: { messageId: res.messageId, accepted: res.accepted, rejected: res.rejected, response: res.response.slice(0, EXCERPT) },
      attempt,
    };
  }
  const error = res.code !== null && res.response ? `SMTP ${res.code}: ${res.response.slice(0, 300)}` : res.error;
  return { kind: 'failed', error, permanent: !res.transient, attempt };
}
