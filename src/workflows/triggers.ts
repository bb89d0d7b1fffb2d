// Triggers: which events start a workflow. An event is seen as (source, object, action) — the trigger style of
// low-code backends ("On checkout session event", action `completed`) — or by its exact type.
//
// - stripe: stored Stripe events; `checkout.session.completed` → checkout_session/completed by the catalog's
//   longest known prefix (objectAndAction).
// - piano: stored Piano events; `access_granted` → access/granted (pianoObjectAndAction); a version 1 `access`
//   event takes its action from the payload's `event` (`new_purchase`).
// - sluice: business events, `subscription.canceled` → subscription/canceled, whichever provider caused them;
//   one workflow on sluice/subscription/canceled serves Stripe and Piano alike.
// - custom: events published with POST …/events, `course.enrolled` → course/enrolled.
// - {type}: one exact name as Sluice publishes it: business and custom names as they are, provider events as
//   `stripe.<type>` / `piano.<type>`.
// The object/action lists come from the catalog (src/catalog); nothing is listed twice.
import {
  BUSINESS_EVENT_TYPES,
  KNOWN_OBJECTS,
  PIANO_TYPES,
  STRIPE_TRIGGER_TYPES,
  editDistance,
  objectAndAction,
  pianoObjectAndAction,
} from '../catalog/index.js';
import type { PathProblem } from './template.js';

export const TRIGGER_SOURCES = ['stripe', 'piano', 'sluice', 'custom'] as const;
export type TriggerSource = (typeof TRIGGER_SOURCES)[number];

export type ObjectTrigger = { source: TriggerSource; object: string; actions?: string[]; if?: string };
export type TypeTrigger = { type: string; if?: string };
export type Trigger = ObjectTrigger | TypeTrigger;

/** An event as workflows see it: a stored provider event, or a published business or custom message. */
export interface TriggerEvent {
  source: TriggerSource;
  /** The provider's own type for stripe/piano (`invoice.paid`, `access_granted`), else the message type. */
  type: string;
  /** The provider payload (Piano v1 events carry their action in it); optional for the rest. */
  payload?: unknown;
}

export interface ObjectOffer {
  object: string;
  /** "checkout session" */
  label: string;
  actions: string[];
}

/** The (object, action) of an event. */
export function classifyEvent(event: TriggerEvent): { object: string; action: string } {
  if (event.source === 'piano') {
    const p = event.payload as { event?: unknown } | undefined;
    return pianoObjectAndAction(event.type, typeof p?.event === 'string' ? p.event : null);
  }
  return objectAndAction(event.type);
}

/** The name Sluice publishes the event under: `stripe.invoice.paid`, `subscription.canceled`. */
export function publishedType(event: TriggerEvent): string {
  return event.source === 'stripe' || event.source === 'piano' ? `${event.source}.${event.type}` : event.type;
}

function group(types: readonly string[], classify: (t: string) => { object: string; action: string }): ObjectOffer[] {
  const byObject = new Map<string, string[]>();
  for (const t of types) {
    const { object, action } = classify(t);
    if (!action) continue;
    const list = byObject.get(object) ?? [];
    if (!list.includes(action)) list.push(action);
    byObject.set(object, list);
  }
  return [...byObject].map(([object, actions]) => ({ object, label: object.replace(/_/g, ' '), actions }));
}

const OFFERS: Record<Exclude<TriggerSource, 'custom'>, ObjectOffer[]> = {
  stripe: group(STRIPE_TRIGGER_TYPES, objectAndAction),
  piano: group(PIANO_TYPES, (t) => pianoObjectAndAction(t)),
  sluice: group(BUSINESS_EVENT_TYPES, objectAndAction),
};

/** The objects and actions offered for a source, for the trigger picker. Custom events offer the objects and
 *  actions of the custom types published in the workspace so far. */
export function triggerObjects(source: TriggerSource, customTypes: readonly string[] = []): ObjectOffer[] {
  if (source === 'custom') return group(customTypes, objectAndAction);
  return OFFERS[source];
}

// Objects in the catalog's prefix table that belong to business events or Piano, not to Stripe.
const NOT_STRIPE = ['order', 'payment', 'chargeback', 'trial', 'access', 'incident', 'user', 'term', 'contract', 'voucher'];

const WORD = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/;

function closest(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(name.length / 4)) ? best : null;
}

const suggest = (name: string, candidates: readonly string[]) => {
  const s = closest(name, candidates);
  return s ? ` (did you mean "${s}"?)` : '';
};

/**
 * Every problem with a trigger's shape, object and actions, as {path, message} (`if` is compiled by the
 * definition). Stripe objects beyond the offered ones are accepted by the same longest-prefix rule (any
 * object the catalog knows), with any action; custom objects and actions need only be well-formed words.
 */
export function checkTrigger(trigger: unknown, path = 'trigger', customTypes: readonly string[] = []): PathProblem[] {
  const problems: PathProblem[] = [];
  const add = (p: string, message: string) => problems.push({ path: p, message });
  if (typeof trigger !== 'object' || trigger === null || Array.isArray(trigger)) {
    add(path, 'trigger must be an object: {source, object, actions?, if?} or {type, if?}');
    return problems;
  }
  const t = trigger as Record<string, unknown>;
  const allowed = 'type' in t ? ['type', 'if'] : ['source', 'object', 'actions', 'if'];
  for (const k of Object.keys(t)) {
    if (!allowed.includes(k)) {
      add(`${path}.${k}`, 'type' in t ? `unknown field "${k}": a {type} trigger takes only type and if` : `unknown field "${k}"`);
    }
  }
  if ('type' in t) {
    if (typeof t.type !== 'string' || !WORD.test(t.type) || !t.type.includes('.')) {
      add(`${path}.type`, 'type must be one exact event type, e.g. "subscription.canceled", "stripe.invoice.paid" or "course.enrolled"');
    } else if (t.type.endsWith('.*') || t.type === '*') {
      add(`${path}.type`, 'type takes one exact event type; use {source, object, actions} for a group');
    }
    return problems;
  }
  if (typeof t.source !== 'string' || !(TRIGGER_SOURCES as readonly string[]).includes(t.source)) {
    add(`${path}.source`, `source must be one of ${TRIGGER_SOURCES.join(', ')}`);
    return problems;
  }
  const source = t.source as TriggerSource;
  if (typeof t.object !== 'string' || t.object === '') {
    add(`${path}.object`, 'object is required, e.g. "checkout_session"');
    return problems;
  }
  const object = t.object;
  const offers = triggerObjects(source, customTypes);
  const offer = offers.find((o) => o.object === object);
  let knownActions: string[] | null = offer?.actions ?? null;
  if (!offer) {
    const accepted =
      source === 'custom'
        ? /^[a-z0-9_]+$/.test(object)
        : source === 'stripe' && KNOWN_OBJECTS.includes(object) && !NOT_STRIPE.includes(object);
    if (!accepted) {
      const names = offers.map((o) => o.object);
      add(
        `${path}.object`,
        `unknown ${source} object "${object}"${suggest(object, names)}; ${source === 'custom' ? 'custom objects are lower-case words' : `objects: ${names.join(', ')}`}`,
      );
      return problems;
    }
    knownActions = null;
  }
  if (t.actions === undefined) return problems;
  if (!Array.isArray(t.actions) || t.actions.length === 0) {
    add(`${path}.actions`, 'actions must be a non-empty list of actions; omit it to trigger on every action');
    return problems;
  }
  const seen = new Set<string>();
  t.actions.forEach((a, i) => {
    const p = `${path}.actions[${i}]`;
    if (typeof a !== 'string' || !WORD.test(a)) add(p, 'an action is a lower-case word, e.g. "completed"');
    else if (seen.has(a)) add(p, `action "${a}" is listed twice`);
    else if (knownActions && !knownActions.includes(a)) {
      add(p, `unknown action "${a}" for ${source} ${object}${suggest(a, knownActions)}; actions: ${knownActions.join(', ')}`);
    }
    if (typeof a === 'string') seen.add(a);
  });
  return problems;
}

/** Whether an event starts a workflow with this trigger (before its `if`, which the run evaluates). */
export function matchTrigger(trigger: Trigger, event: TriggerEvent): boolean {
  if ('type' in trigger) return trigger.type === publishedType(event);
  if (trigger.source !== event.source) return false;
  const { object, action } = classifyEvent(event);
  if (object !== trigger.object) return false;
  return trigger.actions === undefined || trigger.actions.includes(action);
}
