// POST …/workflows/:id/test {eventId | payload, type?}: a dry run. Conditions are evaluated and every step on the
// path the event takes is rendered; nothing is sent, written or published. Steps that read an earlier step's
// output see null there (nothing ran), so such a template may show an error instead of a value.
import { findTriggerMessage } from '../../db/queries/workflows.js';
import { ValidationError, NotFoundError } from '../../errors.js';
import { BUSINESS_EVENT_TYPES } from '../../catalog/index.js';
import { buildContext, type ContextEventInput } from '../../workflows/context.js';
import type { CompiledStep } from '../../workflows/definition.js';
import { buildEmail, EmailInputError, emailPreview } from '../../workflows/email.js';
import { ExpressionError } from '../../workflows/expression.js';
import { branchSteps, matchCase, secretMarkers } from '../../workflows/plan.js';
import { buildStepRequest, RequestInputError } from '../../workflows/requests.js';
import { matchTrigger } from '../../workflows/triggers.js';
import type { Ctx } from '../context.js';
import { asObject } from '../input.js';
import { findEmailSettingsView, noEmailSettingsMessage } from './email-settings.js';
import { requireWorkflow } from './read-workflows.js';
import { compiledVersion, customerOfMessage, secretNames, triggerEventOf } from './workflow-runtime.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface DryStep {
  stepId: string;
  kind: string;
  status: 'would_run' | 'skipped' | 'error';
  input?: unknown;
  would?: string;
  request?: { method: string; url: string; headers: Record<string, string>; body: unknown };
  /** email: the message it would send (bodies cut to their first characters). */
  email?: ReturnType<typeof emailPreview> | (Omit<ReturnType<typeof emailPreview>, 'from'> & { from: string | null });
  branch?: unknown;
  error?: string;
}

export async function testWorkflow(ctx: Ctx, workspaceId: string, workflowId: string, input: unknown) {
  const w = await requireWorkflow(ctx, workspaceId, workflowId);
  const version = await compiledVersion(ctx.db, w.id, w.version, w.definition);
  const body = asObject(input);
  let event: ContextEventInput;
  let customer = null;
  if (typeof body.eventId === 'string') {
    const m = await findTriggerMessage(ctx.db, workspaceId, body.eventId);
    const e = m ? triggerEventOf(m) : null;
    if (!m || !e) throw new NotFoundError('EVENT_NOT_FOUND', `no event or message ${JSON.stringify(body.eventId)} in this workspace`);
    event = e;
    customer = await customerOfMessage(ctx.db, workspaceId, m);
  } else if (isObj(body.payload)) {
    event = payloadEvent(version.definition.trigger as Obj, body.payload, typeof body.type === 'string' ? body.type : undefined);
  } else {
    throw new ValidationError('give eventId (a stored event or message id) or payload (an event as JSON)', { field: 'eventId' });
  }
  const matched = matchTrigger(version.definition.trigger, event);
  const context = buildContext({
    event,
    customer,
    run: { id: 'wfr_dry_run', attempt: 1, mode: 'dry_run' },
    secrets: secretMarkers(await secretNames(ctx.db, workspaceId)),
  });
  const smtp = await findEmailSettingsView(ctx, workspaceId);
  let filtered = false;
  let triggerError: string | null = null;
  if (version.compiled.condition) {
    try {
      filtered = version.compiled.condition.evaluate(context) !== true;
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      triggerError = err.message;
    }
  }
  const steps: DryStep[] = [];
  const walk = (list: CompiledStep[]) => {
    for (const step of list) {
      const d: DryStep = { stepId: step.id, kind: step.kind, status: 'would_run' };
      steps.push(d);
      try {
        if (step.kind === 'switch') {
          const value = step.on!.evaluate(context);
          const branch = matchCase(step, value);
          d.branch = { value, case: branch >= 0 ? step.cases![branch]!.when : 'default' };
          context.steps[step.id] = { output: { value, branch } };
          walk(branchSteps(step, branch));
          continue;
        }
        if (step.kind === 'if') {
          const branch = step.condition!.evaluate(context) === true ? 0 : 1;
          d.branch = branch === 0 ? 'then' : 'else';
          context.steps[step.id] = { output: { branch: d.branch } };
          walk(branchSteps(step, branch));
          continue;
        }
        if (step.condition && step.condition.evaluate(context) !== true) {
          d.status = 'skipped';
          continue;
        }
        const r = step.input.render(context);
        if (!r.ok) {
          d.status = 'error';
          d.error = `${r.problem.path}: ${r.problem.message}`;
          continue;
        }
        d.input = r.value;
        d.would = describe(step.kind, r.value);
        if (step.kind === 'http' || step.kind === 'slack' || step.kind === 'discord') {
          const req = dryRequest(step.kind, r.value, `<runId>:${step.id}`);
          let parsed: unknown = req.body;
          try {
            parsed = req.body ? JSON.parse(req.body) : null;
          } catch {
            // text
          }
          d.request = { method: req.method, url: req.url, headers: req.headers, body: parsed };
          d.would = `would ${req.method} ${req.url} with ${req.body || 'no body'}`;
        }
        if (step.kind === 'email') {
          // Without settings the message is still shown (its sender unknown), and the step is marked as one
          // that would fail.
          const email = buildEmail(
            r.value,
            { from: smtp?.from ?? '', replyTo: smtp?.replyTo ?? null },
            { runId: 'wfr_dry_run', stepId: step.id },
          );
          d.email = { ...emailPreview(email), from: email.from === '' ? null : email.from };
          d.would = `would email ${[...email.to, ...email.cc, ...email.bcc].join(', ')}: ${JSON.stringify(email.subject)}`;
          if (!smtp) {
            d.status = 'error';
            d.error = noEmailSettingsMessage(workspaceId);
          }
        }
        context.steps[step.id] = { output: null };
      } catch (err) {
        if (!(err instanceof ExpressionError) && !(err instanceof RequestInputError) && !(err instanceof EmailInputError)) throw err;
        d.status = 'error';
        d.error = err.message;
      }
    }
  };
  if (matched && !filtered && !triggerError) walk(version.compiled.steps);
  return { matched, filtered, error: triggerError, version: w.version, steps, sent: false };
}

function describe(kind: string, input: unknown): string {
  const i = isObj(input) ? input : {};
  switch (kind) {
    case 'crm.tag':
      return `would tag the customer with ${JSON.stringify(i.add)}`;
    case 'crm.untag':
      return `would remove tags ${JSON.stringify(i.remove)}`;
    case 'crm.set':
      return `would set attributes ${JSON.stringify(i.attributes)}`;
    case 'access.grant':
      return `would grant ${JSON.stringify(i.resource)}${i.until ? ` until ${String(i.until)}` : ''}`;
    case 'access.revoke':
      return `would revoke ${JSON.stringify(i.resource)}`;
    case 'event.emit':
      return `would emit ${String(i.type)} with ${JSON.stringify(i.data)}`;
    case 'webhook.send':
      return `would send ${String(i.type)} to ${i.endpointId ? `endpoint ${String(i.endpointId)}` : 'the subscribed endpoints'}`;
    case 'delay':
      return i.for !== undefined ? `would wait ${String(i.for)}` : `would wait until ${String(i.until)}`;
    default:
      return `would run ${kind}`;
  }
}

/** A payload given to a dry run, seen as the kind of event the workflow's trigger starts on. */
function payloadEvent(trigger: Obj, payload: Obj, type: string | undefined): ContextEventInput {
  const base = { id: typeof payload.id === 'string' ? payload.id : 'evt_dry_run', payload };
  if (typeof trigger.type === 'string') {
    const t = trigger.type;
    for (const p of ['stripe', 'piano'] as const)
      if (t.startsWith(`${p}.`)) return { ...base, source: p, type: type ?? t.slice(p.length + 1) };
    return { ...base, source: BUSINESS_EVENT_TYPES.includes(t) ? 'sluice' : 'custom', type: type ?? t };
  }
  const source = trigger.source as ContextEventInput['source'];
  if (source === 'stripe' && typeof payload.type === 'string') return { ...base, source, type: type ?? payload.type };
  const actions = Array.isArray(trigger.actions) ? (trigger.actions as string[]) : [];
  const guessed = type ?? (actions[0] ? `${String(trigger.object)}${source === 'piano' ? '_' : '.'}${actions[0]}` : undefined);
  if (!guessed) throw new ValidationError('give type: the event type the payload is (the trigger lists no actions)', { field: 'type' });
  return { ...base, source, type: guessed };
}

const LEADING_MARKER = /^⟦secret:[A-Za-z_][A-Za-z0-9_]*⟧/;
const STAND_IN = 'https://secret.invalid';

/**
 * The request a step would send, as a dry run can know it: secrets stay markers. A URL that is itself a secret, or
 * starts with one (a Slack or Discord webhook kept as a secret, as the docs advise), cannot be parsed before the
 * secret is opened, which a dry run never does: it is checked with a stand-in origin and shown with its marker.
 */
function dryRequest(kind: string, input: unknown, idempotencyKey: string) {
  const field = kind === 'http' ? 'url' : 'webhook';
  const i: Obj = isObj(input) ? { ...input } : {};
  const raw = i[field];
  const lead = typeof raw === 'string' ? LEADING_MARKER.exec(raw)?.[0] : undefined;
  if (lead) i[field] = `${STAND_IN}${(raw as string).slice(lead.length)}`;
  const req = buildStepRequest(kind, i, idempotencyKey);
  // Markers elsewhere in the URL (a path, a query value) come back percent-encoded by URL: shown as written.
  let url = req.url.replace(/%E2%9F%A6secret(?::|%3A)([A-Za-z0-9_]+)%E2%9F%A7/g, '⟦secret:$1⟧');
  if (lead) {
    const rest = url.slice(STAND_IN.length);
    url = lead + ((raw as string).length === lead.length && rest.startsWith('/') ? rest.slice(1) : rest);
  }
  return { ...req, url };
}
