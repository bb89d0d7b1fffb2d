// A workflow definition (INTERFACE.md, "Workflows"): validated as a whole, every problem listed as
// {path, message}, and on success returned normalized (defaults filled in, JSON to store as a version) and
// compiled (every condition and template ready to evaluate). Pure: no database, no I/O, no clock.
//
// Paths name the place in the JSON the user wrote: `steps[0].cases[1].steps[0].url`, `trigger.actions[2]`.
import { customTypeProblem } from '../catalog/index.js';
import { notOneLineMessage } from '../lib/single-line.js';
import { addressProblem } from '../outbound/email-address.js';
import { EMAIL_FIELDS, EMAIL_LIMITS } from './email.js';
import { compileExpression, type CompiledExpression, type ExpressionReferences } from './expression.js';
import { headerNameProblem, headerValueProblem } from './requests.js';
import { parseStepTime } from './times.js';
import { compileTemplate, joinPath, type CompiledTemplate, type PathProblem } from './template.js';
import { checkTrigger, type Trigger } from './triggers.js';

export const DEFINITION_LIMITS = {
  maxSteps: 100,
  /** switch/if inside switch/if. */
  maxNesting: 5,
  maxNameLength: 200,
  maxStepIdLength: 64,
  maxRetries: 20,
  maxDelayMs: 90 * 24 * 3600 * 1000,
  minTimeoutMs: 100,
  maxTimeoutMs: 60_000,
} as const;

export const STEP_KINDS = [
  'switch',
  'if',
  'http',
  'webhook.send',
  'slack',
  'discord',
  'email',
  'crm.tag',
  'crm.untag',
  'crm.set',
  'access.grant',
  'access.revoke',
  'event.emit',
  'delay',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Steps that reach outside Sluice: at-least-once, retried by default more often. */
export const EXTERNAL_KINDS: readonly StepKind[] = ['http', 'slack', 'discord', 'email'];

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const BACKOFFS = ['exponential', 'fixed'] as const;
const COMMON = ['id', 'kind', 'if', 'retry', 'onError'];

/** Each kind's own fields: required, optional, and which of them hold URLs (the only places, with headers,
 *  where `secrets.*` may be read). Control fields (switch/if) are not templates. */
const FIELDS: Record<StepKind, { required: string[]; optional: string[]; urls?: string[] }> = {
  switch: { required: ['cases'], optional: ['on', 'default'] },
  if: { required: ['if', 'steps'], optional: ['else'] },
  http: { required: ['url'], optional: ['method', 'headers', 'query', 'body', 'timeoutMs', 'expect'], urls: ['url'] },
  'webhook.send': { required: ['type', 'data'], optional: ['endpointId'] },
  slack: { required: ['webhook', 'text'], optional: ['blocks'], urls: ['webhook'] },
  discord: { required: ['webhook', 'content'], optional: ['embeds'], urls: ['webhook'] },
  email: EMAIL_FIELDS,
  'crm.tag': { required: ['add'], optional: [] },
  'crm.untag': { required: ['remove'], optional: [] },
  'crm.set': { required: ['attributes'], optional: [] },
  'access.grant': { required: ['resource'], optional: ['until'] },
  'access.revoke': { required: ['resource'], optional: [] },
  'event.emit': { required: ['type', 'data'], optional: [] },
  delay: { required: [], optional: ['for', 'until'] },
};

export interface RetryPolicy {
  /** Attempts after the first. */
  max: number;
  backoff: (typeof BACKOFFS)[number];
}

/** A step as stored: the user's fields with defaults filled in. */
export type StepDefinition = {
  id: string;
  kind: StepKind;
  if?: string;
  retry: RetryPolicy;
  onError: 'fail' | 'continue';
} & Record<string, unknown>;

export interface WorkflowDefinition {
  name: string;
  enabled: boolean;
  trigger: Trigger;
  steps: StepDefinition[];
}

/** A step ready to run: conditions compiled, its own fields compiled as one template. */
export interface CompiledStep {
  id: string;
  kind: StepKind;
  path: string;
  /** Skip condition (`if` on any step but `if`); for an `if` step, its branch condition. */
  condition: CompiledExpression | null;
  retry: RetryPolicy;
  onError: 'fail' | 'continue';
  /** The kind's fields (url, body, …) as a template; control fields are left out. */
  input: CompiledTemplate;
  /** switch: the key, `event.action` unless given. */
  on?: CompiledExpression;
  cases?: { when: unknown[]; steps: CompiledStep[] }[];
  default?: CompiledStep[];
  /** if: the branches. */
  then?: CompiledStep[];
  else?: CompiledStep[];
}

export interface CompiledWorkflow {
  condition: CompiledExpression | null;
  steps: CompiledStep[];
  /** Every step id in document order (depth first). */
  stepIds: string[];
}

export type ValidationResult =
  { ok: true; definition: WorkflowDefinition; compiled: CompiledWorkflow } | { ok: false; problems: PathProblem[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const STEP_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s" → 90000, or null when not a duration. */
export function parseDuration(s: string): number | null {
  const m = DURATION.exec(s.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

/** A reference to check once every step id is known. */
interface PendingReference {
  path: string;
  /** The step reading, or null for the trigger. */
  from: string | null;
  steps: string[];
}

/**
 * `stored`: a definition saved before (perhaps by an earlier release), compiled again to run it: rules that only
 * concern how it reads (the name on one line) are not applied, so a rule added later does not stop its runs.
 */
export function validateDefinition(input: unknown, options: { customTypes?: readonly string[]; stored?: boolean } = {}): ValidationResult {
  const problems: PathProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (!isObj(input))
    return { ok: false, problems: [{ path: '', message: 'a workflow definition is a JSON object {name, enabled, trigger, steps}' }] };

  for (const k of Object.keys(input)) {
    if (!['name', 'enabled', 'trigger', 'steps'].includes(k))
      add(k, `unknown field "${k}"; a definition has name, enabled, trigger and steps`);
  }
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (typeof input.name !== 'string' || name === '') add('name', 'name is required');
  else if (name.length > DEFINITION_LIMITS.maxNameLength) add('name', `name is longer than ${DEFINITION_LIMITS.maxNameLength} characters`);
  else if (!options.stored) {
    const notOneLine = notOneLineMessage('name', name);
    if (notOneLine) add('name', notOneLine);
  }
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') add('enabled', 'enabled must be true or false');

  // Trigger.
  const triggerProblems = checkTrigger(input.trigger, 'trigger', options.customTypes);
  problems.push(...triggerProblems);
  let triggerCondition: CompiledExpression | null = null;
  const pending: PendingReference[] = [];
  const trigger = isObj(input.trigger) ? input.trigger : {};
  if (trigger.if !== undefined) {
    triggerCondition = condition(trigger.if, 'trigger.if', null, problems, pending);
  }

  // Steps.
  const ids = new Map<string, { index: number; ancestors: string[] }>();
  const stepIds: string[] = [];
  let count = 0;
  const walkList = (
    list: unknown,
    path: string,
    depth: number,
    ancestors: string[],
  ): { defs: StepDefinition[]; compiled: CompiledStep[] } => {
    const defs: StepDefinition[] = [];
    const compiled: CompiledStep[] = [];
    if (!Array.isArray(list)) {
      add(path, 'must be a list of steps');
      return { defs, compiled };
    }
    list.forEach((raw, i) => {
      const r = walkStep(raw, joinPath(path, i), depth, ancestors);
      if (r) {
        defs.push(r.def);
        compiled.push(r.compiled);
      }
    });
    return { defs, compiled };
  };

  const walkStep = (
    raw: unknown,
    path: string,
    depth: number,
    ancestors: string[],
  ): { def: StepDefinition; compiled: CompiledStep } | null => {
    count++;
    if (count === DEFINITION_LIMITS.maxSteps + 1) add(path, `more than ${DEFINITION_LIMITS.maxSteps} steps in one workflow`);
    if (!isObj(raw)) {
      add(path, 'a step is an object {id, kind, …}');
      return null;
    }
    const id = raw.id;
    if (typeof id !== 'string' || !STEP_ID.test(id) || id.length > DEFINITION_LIMITS.maxStepIdLength) {
      add(
        joinPath(path, 'id'),
        `every step needs an id: letters, digits and underscores, not starting with a digit, at most ${DEFINITION_LIMITS.maxStepIdLength} characters (it is how steps.<id>.output reads it)`,
      );
    } else if (ids.has(id)) {
      add(joinPath(path, 'id'), `step id "${id}" is used more than once; ids must be unique in the whole workflow`);
    } else {
      ids.set(id, { index: stepIds.length, ancestors });
      stepIds.push(id);
    }
    const stepId = typeof id === 'string' ? id : `#${path}`;
    const kind = raw.kind;
    if (typeof kind !== 'string' || !(STEP_KINDS as readonly string[]).includes(kind)) {
      add(joinPath(path, 'kind'), `kind must be one of ${STEP_KINDS.join(', ')}`);
      return null;
    }
    const k = kind as StepKind;
    const spec = FIELDS[k];
    for (const f of Object.keys(raw)) {
      if (!COMMON.includes(f) && !spec.required.includes(f) && !spec.optional.includes(f)) {
        add(joinPath(path, f), `unknown field "${f}" for ${an(k)} step; its fields are ${[...spec.required, ...spec.optional].join(', ')}`);
      }
    }
    for (const f of spec.required) {
      if (raw[f] === undefined) {
        add(joinPath(path, f), `${an(k)} step needs ${f}`);
      }
    }

    // Common fields.
    const retry = retryPolicy(raw.retry, k, joinPath(path, 'retry'), add);
    let onError: 'fail' | 'continue' = 'fail';
    if (raw.onError !== undefined) {
      if (raw.onError === 'fail' || raw.onError === 'continue') onError = raw.onError;
      else add(joinPath(path, 'onError'), 'onError must be "fail" or "continue"');
    }
    const cond = raw.if !== undefined ? condition(raw.if, joinPath(path, 'if'), stepId, problems, pending) : null;

    const def: StepDefinition = { ...raw, id: stepId, kind: k, retry, onError } as StepDefinition;
    const step: CompiledStep = { id: stepId, kind: k, path, condition: cond, retry, onError, input: EMPTY_TEMPLATE };
    const inner = [...ancestors, stepId];

    if (k === 'switch' || k === 'if') {
      // They never retry; leaving the field out keeps a normalized definition valid when validated again.
      delete (def as Partial<StepDefinition>).retry;
      if (depth >= DEFINITION_LIMITS.maxNesting) add(path, `switch and if steps nest more than ${DEFINITION_LIMITS.maxNesting} deep`);
      if (raw.retry !== undefined) add(joinPath(path, 'retry'), `${an(k)} step does not retry; put retry on the steps inside it`);
    }
    if (k === 'switch') {
      const onSource = raw.on === undefined ? 'event.action' : raw.on;
      step.on = value(onSource, joinPath(path, 'on'), stepId, problems, pending) ?? undefined;
      if (raw.on === undefined) def.on = 'event.action';
      step.cases = [];
      if (!Array.isArray(raw.cases) || raw.cases.length === 0) {
        if (raw.cases !== undefined) add(joinPath(path, 'cases'), 'cases must be a non-empty list of {when, steps}');
      } else {
        const seenWhen = new Map<string, number>();
        def.cases = raw.cases.map((c, ci) => {
          const cp = joinPath(joinPath(path, 'cases'), ci);
          if (!isObj(c)) {
            add(cp, 'a case is an object {when, steps}');
            return c;
          }
          for (const f of Object.keys(c))
            if (f !== 'when' && f !== 'steps') add(joinPath(cp, f), `unknown field "${f}"; a case has when and steps`);
          const whens = Array.isArray(c.when) ? c.when : [c.when];
          if (c.when === undefined || whens.length === 0)
            add(joinPath(cp, 'when'), 'when is required: a value, or a list of values, compared with on');
          whens.forEach((w, wi) => {
            const wp = Array.isArray(c.when) ? joinPath(joinPath(cp, 'when'), wi) : joinPath(cp, 'when');
            if (w === null || !['string', 'number', 'boolean'].includes(typeof w)) {
              add(wp, 'when compares with a string, number or boolean');
              return;
            }
            const key = JSON.stringify(w);
            if (seenWhen.has(key))
              add(wp, `${key} is already matched by case ${seenWhen.get(key)}; the first match wins, so this case can never run for it`);
            else seenWhen.set(key, ci);
            if (onSource === 'event.action' && typeof w === 'string') {
              const actions = triggerActions(input.trigger);
              if (actions && !actions.includes(w)) {
                add(wp, `"${w}" is not among the trigger's actions (${actions.join(', ')}), so this case never runs`);
              }
            }
          });
          const branch = walkList(c.steps, joinPath(cp, 'steps'), depth + 1, inner);
          step.cases!.push({ when: whens, steps: branch.compiled });
          return { when: c.when, steps: branch.defs };
        });
      }
      if (raw.default !== undefined) {
        const branch = walkList(raw.default, joinPath(path, 'default'), depth + 1, inner);
        step.default = branch.compiled;
        def.default = branch.defs;
      } else {
        step.default = [];
        def.default = [];
      }
    } else if (k === 'if') {
      step.condition = raw.if !== undefined ? cond : null;
      const then = walkList(raw.steps, joinPath(path, 'steps'), depth + 1, inner);
      step.then = then.compiled;
      def.steps = then.defs;
      if (raw.else !== undefined) {
        const otherwise = walkList(raw.else, joinPath(path, 'else'), depth + 1, inner);
        step.else = otherwise.compiled;
        def.else = otherwise.defs;
      } else step.else = [];
    } else {
      const fields: Obj = {};
      for (const f of [...spec.required, ...spec.optional]) if (raw[f] !== undefined) fields[f] = raw[f];
      if (k === 'http') {
        const method = raw.method === undefined ? 'POST' : raw.method;
        if (typeof method !== 'string' || !HTTP_METHODS.includes(method.toUpperCase())) {
          add(joinPath(path, 'method'), `method must be one of ${HTTP_METHODS.join(', ')}`);
        } else {
          fields.method = method.toUpperCase();
          def.method = fields.method;
        }
      }
      checkKindFields(k, fields, path, add, options.stored);
      const t = compileTemplate(fields, path);
      if (!t.ok) problems.push(...t.problems);
      else {
        step.input = t.template;
        const urlPaths = (spec.urls ?? []).map((u) => joinPath(path, u));
        const headersPath = joinPath(path, 'headers');
        for (const e of t.template.expressions) {
          pending.push({ path: e.path, from: stepId, steps: e.references.steps });
          if (
            e.references.secrets.length > 0 &&
            !urlPaths.includes(e.path) &&
            !(e.path === headersPath || e.path.startsWith(`${headersPath}.`) || e.path.startsWith(`${headersPath}[`))
          ) {
            add(
              e.path,
              `secrets can be used only in URLs and headers (here: ${e.references.secrets.map((s) => `secrets.${s}`).join(', ')}); they are redacted everywhere else`,
            );
          }
        }
      }
    }
    return { def, compiled: step };
  };

  const steps = walkList(input.steps ?? undefined, 'steps', 0, []);
  if (Array.isArray(input.steps) && input.steps.length === 0) add('steps', 'a workflow needs at least one step');

  // References to steps, now that every id is known.
  for (const ref of pending) {
    for (const target of ref.steps) {
      const t = ids.get(target);
      if (!t) {
        add(ref.path, `steps.${target} refers to no step; step ids are ${stepIds.length ? stepIds.join(', ') : '(none)'}`);
      } else if (ref.from === null) {
        add(ref.path, `the trigger's condition is checked before any step runs, so steps.${target} is not available`);
      } else {
        const from = ids.get(ref.from);
        if (target === ref.from) add(ref.path, `step ${target} cannot read its own output`);
        else if (from && (t.index > from.index || from.ancestors.includes(target))) {
          add(ref.path, `steps.${target} has not finished when step ${ref.from} runs; only earlier steps' output can be read`);
        }
      }
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  const definition: WorkflowDefinition = {
    name,
    enabled: input.enabled === undefined ? true : (input.enabled as boolean),
    trigger: normalizeTrigger(trigger),
    steps: steps.defs,
  };
  return { ok: true, definition, compiled: { condition: triggerCondition, steps: steps.compiled, stepIds } };
}

const EMPTY_TEMPLATE: CompiledTemplate = { expressions: [], render: () => ({ ok: true, value: {} }) };

function normalizeTrigger(t: Obj): Trigger {
  if ('type' in t) return { type: t.type as string, ...(t.if !== undefined ? { if: t.if as string } : {}) };
  return {
    source: t.source as 'stripe',
    object: t.object as string,
    ...(t.actions !== undefined ? { actions: t.actions as string[] } : {}),
    ...(t.if !== undefined ? { if: t.if as string } : {}),
  };
}

function triggerActions(trigger: unknown): string[] | null {
  if (!isObj(trigger) || 'type' in trigger || !Array.isArray(trigger.actions)) return null;
  return trigger.actions.filter((a): a is string => typeof a === 'string');
}

function retryPolicy(raw: unknown, kind: StepKind, path: string, add: (p: string, m: string) => void): RetryPolicy {
  const policy: RetryPolicy = {
    max: EXTERNAL_KINDS.includes(kind) ? 5 : kind === 'switch' || kind === 'if' || kind === 'delay' ? 0 : 3,
    backoff: 'exponential',
  };
  if (raw === undefined) return policy;
  if (!isObj(raw)) {
    add(path, 'retry is {max, backoff}');
    return policy;
  }
  for (const f of Object.keys(raw))
    if (f !== 'max' && f !== 'backoff') add(joinPath(path, f), `unknown field "${f}"; retry has max and backoff`);
  if (raw.max !== undefined) {
    if (typeof raw.max !== 'number' || !Number.isInteger(raw.max) || raw.max < 0 || raw.max > DEFINITION_LIMITS.maxRetries) {
      add(joinPath(path, 'max'), `max must be a whole number from 0 to ${DEFINITION_LIMITS.maxRetries}`);
    } else policy.max = raw.max;
  }
  if (raw.backoff !== undefined) {
    if (!(BACKOFFS as readonly unknown[]).includes(raw.backoff)) add(joinPath(path, 'backoff'), `backoff must be ${BACKOFFS.join(' or ')}`);
    else policy.backoff = raw.backoff as RetryPolicy['backoff'];
  }
  return policy;
}

function compile(
  source: unknown,
  kind: 'condition' | 'value',
  path: string,
  from: string | null,
  problems: PathProblem[],
  pending: PendingReference[],
): CompiledExpression | null {
  if (typeof source !== 'string') {
    problems.push({ path, message: `must be a CEL ${kind === 'condition' ? 'condition' : 'expression'} as a string` });
    return null;
  }
  const c = compileExpression(source, { kind });
  if (!c.ok) {
    problems.push({ path, message: c.problem.message });
    return null;
  }
  checkNoSecrets(c.references, path, problems);
  pending.push({ path, from, steps: c.references.steps });
  return c;
}

function condition(source: unknown, path: string, from: string | null, problems: PathProblem[], pending: PendingReference[]) {
  return compile(source, 'condition', path, from, problems, pending);
}

function value(source: unknown, path: string, from: string | null, problems: PathProblem[], pending: PendingReference[]) {
  return compile(source, 'value', path, from, problems, pending);
}

function checkNoSecrets(refs: ExpressionReferences, path: string, problems: PathProblem[]): void {
  if (refs.secrets.length > 0) problems.push({ path, message: 'secrets can be used only in URLs and headers, not in conditions' });
}

const an = (kind: string) => `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;

const isTemplate = (s: string) => s.includes('{{');
const oneTemplate = (s: string) => /^\s*\{\{[\s\S]*\}\}\s*$/.test(s) && s.indexOf('{{', s.indexOf('{{') + 2) < 0;

/** Checks of each kind's fields that do not need the context: literal shapes, URL schemes, durations. */
function checkKindFields(kind: StepKind, f: Obj, path: string, add: (p: string, m: string) => void, stored = false): void {
  const p = (field: string) => joinPath(path, field);
  const url = (field: string) => {
    const v = f[field];
    if (v === undefined) return;
    if (typeof v !== 'string') return add(p(field), `${field} must be a URL string`);
    // A URL that is one {{ }} (e.g. a secret) is checked when rendered; otherwise its scheme must be written out.
    if (oneTemplate(v)) return;
    if (!/^https?:\/\//i.test(v)) return add(p(field), `${field} must start with http:// or https://`);
    if (!isTemplate(v)) {
      try {
        new URL(v);
      } catch {
        add(p(field), `${field} is not a valid URL`);
      }
    }
  };
  const str = (field: string, required = false) => {
    const v = f[field];
    if (v === undefined) return;
    if (typeof v !== 'string' || (required && v.trim() === '')) add(p(field), `${field} must be a ${required ? 'non-empty ' : ''}string`);
  };
  const obj = (field: string) => {
    const v = f[field];
    if (v !== undefined && !isObj(v)) add(p(field), `${field} must be an object`);
  };
  const list = (field: string) => {
    const v = f[field];
    if (v === undefined) return;
    if (typeof v === 'string' && oneTemplate(v)) return;
    if (!Array.isArray(v) || v.length === 0) add(p(field), `${field} must be a non-empty list`);
    else v.forEach((x, i) => typeof x !== 'string' && add(joinPath(p(field), i), 'must be a string'));
  };
  const eventType = (field: string) => {
    const v = f[field];
    if (typeof v !== 'string') return v !== undefined && add(p(field), `${field} must be an event type string`);
    if (isTemplate(v)) return add(p(field), `${field} must be written out, not a template: it decides who receives the event`);
    const problem = customTypeProblem(v);
    if (problem) add(p(field), problem);
  };
  switch (kind) {
    case 'http':
      url('url');
      obj('headers');
      obj('query');
      if (isObj(f.headers))
        for (const [h, v] of Object.entries(f.headers)) {
          if (typeof v !== 'string') add(joinPath(p('headers'), h), 'a header value must be a string');
          else if (!stored) {
            const problem = headerNameProblem(h) ?? (isTemplate(v) ? undefined : headerValueProblem(v));
            if (problem) add(joinPath(p('headers'), h), problem);
          }
        }
      if (f.timeoutMs !== undefined) {
        const t = f.timeoutMs;
        if (typeof t !== 'number' || !Number.isInteger(t) || t < DEFINITION_LIMITS.minTimeoutMs || t > DEFINITION_LIMITS.maxTimeoutMs) {
          add(
            p('timeoutMs'),
            `timeoutMs must be a whole number from ${DEFINITION_LIMITS.minTimeoutMs} to ${DEFINITION_LIMITS.maxTimeoutMs}`,
          );
        }
      }
      if (f.expect !== undefined) {
        const codes = Array.isArray(f.expect) ? f.expect : [f.expect];
        if (codes.length === 0 || codes.some((c) => typeof c !== 'number' || !Number.isInteger(c) || c < 100 || c > 599)) {
          add(p('expect'), 'expect is a status code or a list of status codes (100–599) that count as success; default any 2xx');
        }
      }
      break;
    case 'webhook.send':
      eventType('type');
      str('endpointId');
      break;
    case 'slack':
      url('webhook');
      str('text', true);
      if (f.blocks !== undefined && !Array.isArray(f.blocks)) add(p('blocks'), 'blocks must be a list');
      break;
    case 'discord':
      url('webhook');
      str('content', true);
      if (f.embeds !== undefined && !Array.isArray(f.embeds)) add(p('embeds'), 'embeds must be a list');
      break;
    case 'email': {
      // Literal addresses are checked now; one holding a template is checked once rendered.
      const address = (field: string, v: unknown, at: string) => {
        if (typeof v !== 'string') return add(at, `${field} is an address or a template giving one`);
        if (isTemplate(v)) return;
        const problem = addressProblem(v);
        if (problem) add(at, problem);
      };
      const recipients = (field: string) => {
        const v = f[field];
        if (v === undefined) return;
        if (Array.isArray(v)) {
          if (v.length === 0) return add(p(field), `${field} is an address or a non-empty list of addresses`);
          if (v.length > EMAIL_LIMITS.maxRecipients)
            return add(p(field), `${field} lists more than ${EMAIL_LIMITS.maxRecipients} addresses`);
          v.forEach((x, i) => address(field, x, joinPath(p(field), i)));
        } else if (typeof v === 'string') address(field, v, p(field));
        else add(p(field), `${field} is an address or a non-empty list of addresses`);
      };
      recipients('to');
      recipients('cc');
      recipients('bcc');
      for (const field of ['from', 'replyTo']) if (f[field] !== undefined) address(field, f[field], p(field));
      str('subject', true);
      str('text');
      str('html');
      if (f.text === undefined && f.html === undefined) add(path, 'an email step needs text, html or both');
      break;
    }
    case 'crm.tag':
      list('add');
      break;
    case 'crm.untag':
      list('remove');
      break;
    case 'crm.set':
      if (f.attributes !== undefined && (!isObj(f.attributes) || Object.keys(f.attributes).length === 0)) {
        add(p('attributes'), 'attributes must be an object with at least one attribute');
      }
      break;
    case 'access.grant':
      str('resource', true);
      str('until');
      if (typeof f.until === 'string' && !isTemplate(f.until) && !stored) {
        const t = parseStepTime(f.until);
        if (!t.ok) add(p('until'), `until: ${t.message}, or a template giving one`);
      }
      break;
    case 'access.revoke':
      str('resource', true);
      break;
    case 'event.emit':
      eventType('type');
      break;
    case 'delay': {
      const hasFor = f.for !== undefined;
      const hasUntil = f.until !== undefined;
      if (hasFor === hasUntil) {
        add(
          path,
          hasFor ? 'a delay takes for or until, not both' : 'a delay needs for (a duration like "2s", "15m", "3d") or until (a time)',
        );
        break;
      }
      if (hasFor) {
        const v = f.for;
        if (typeof v !== 'string') add(p('for'), 'for is a duration like "90s", "15m", "2h" or "3d"');
        else if (!isTemplate(v)) {
          const ms = parseDuration(v);
          if (ms === null) add(p('for'), `"${v}" is not a duration; write a whole number and a unit: ms, s, m, h or d ("15m")`);
          else if (ms > DEFINITION_LIMITS.maxDelayMs) add(p('for'), 'a delay is at most 90 days');
        }
      } else {
        const v = f.until;
        if (typeof v !== 'string') add(p('until'), 'until is an ISO 8601 time, or a template giving one');
        else if (!isTemplate(v) && !stored) {
          const t = parseStepTime(v);
          if (!t.ok) add(p('until'), t.message);
        }
      }
      break;
    }
    default:
      break;
  }
}
