// Step planning: where a run goes after a step. Steps form a tree (switch cases, if branches); a run walks it
// depth first, one step at a time, and records the branch a switch or if took in that step's output, so the
// walk can be resumed from the database at any step. Pure: no database, no clock.
//
// Also the secret markers: a step's input is rendered with each secret replaced by a marker (⟦secret:NAME⟧) and
// frozen that way, so no secret value is ever stored in a run record; the markers are replaced by the values
// only in the request about to be sent (revealSecrets).
import type { CompiledStep, CompiledWorkflow } from './definition.js';
import { replaceSecrets } from './secret-forms.js';

interface Place {
  step: CompiledStep;
  /** The list the step is in, and its index there. */
  list: CompiledStep[];
  index: number;
  /** The switch or if step whose branch holds the list (null: the top level). */
  container: CompiledStep | null;
}

export interface StepIndex {
  workflow: CompiledWorkflow;
  places: Map<string, Place>;
}

export function indexSteps(workflow: CompiledWorkflow): StepIndex {
  const places = new Map<string, Place>();
  const walk = (list: CompiledStep[], container: CompiledStep | null) => {
    list.forEach((step, index) => {
      places.set(step.id, { step, list, index, container });
      for (const c of step.cases ?? []) walk(c.steps, step);
      if (step.default) walk(step.default, step);
      if (step.then) walk(step.then, step);
      if (step.else) walk(step.else, step);
    });
  };
  walk(workflow.steps, null);
  return { workflow, places };
}

export function firstStep(index: StepIndex): CompiledStep | null {
  return index.workflow.steps[0] ?? null;
}

export function findStep(index: StepIndex, id: string): CompiledStep | null {
  return index.places.get(id)?.step ?? null;
}

/** The step after `id` once it (and whatever it contains) is done; null when the run is done. */
export function stepAfter(index: StepIndex, id: string): CompiledStep | null {
  const place = index.places.get(id);
  if (!place) return null;
  const sibling = place.list[place.index + 1];
  if (sibling) return sibling;
  return place.container ? stepAfter(index, place.container.id) : null;
}

/** What a switch or if step chose, as recorded in its output. */
export interface BranchOutput {
  /** switch: the index of the matching case, or -1 for default; if: 0 for then, 1 for else. */
  branch: number;
  value?: unknown;
}

export function branchSteps(step: CompiledStep, branch: number): CompiledStep[] {
  if (step.kind === 'switch') return branch >= 0 ? (step.cases?.[branch]?.steps ?? []) : (step.default ?? []);
  if (step.kind === 'if') return branch === 0 ? (step.then ?? []) : (step.else ?? []);
  return [];
}

/** The step after a switch/if that chose `branch`: the branch's first step, else the step after it. */
export function stepAfterBranch(index: StepIndex, step: CompiledStep, branch: number): CompiledStep | null {
  return branchSteps(step, branch)[0] ?? stepAfter(index, step.id);
}

/** The case of a switch a value matches (first match wins), or -1 for default. */
export function matchCase(step: CompiledStep, value: unknown): number {
  const key = JSON.stringify(value);
  return (step.cases ?? []).findIndex((c) => c.when.some((w) => JSON.stringify(w) === key));
}

/** Every step, depth first, with the path it would take given the branches; for dry runs. */
export function allSteps(index: StepIndex): CompiledStep[] {
  return [...index.places.values()].map((p) => p.step);
}

// ---- secret markers ----

const MARK = /⟦secret:([A-Za-z_][A-Za-z0-9_]*)⟧/g;

export const secretMarker = (name: string) => `⟦secret:${name}⟧`;

/** The `secrets` of the evaluation context as markers: rendered inputs hold markers, never values. */
export function secretMarkers(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, secretMarker(n)]));
}

/** A copy of a rendered value with each marker replaced by the secret's value (for the request only). */
export function revealSecrets<T>(value: T, secrets: Record<string, string>): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(MARK, (whole, name: string) => secrets[name] ?? whole);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * Hides secret values that came back in what a run records: a step's answer (a receiver echoing a header or its
 * URL) and its error (a resolver's or the HTTP client's message). A value comes back in the form whoever wrote the
 * text gave it, so each one is found in every such form, mixed too (secret-forms.ts): in any case (a DNS error
 * lowercases the host a secret was put in; an error page may shout), percent-encoded in whole or in part with
 * either case of hex digits (the URL parser encodes some characters of a path or query, and reads a backslash there
 * as a slash; encodeURIComponent encodes all; a form writes a space as `+`), JSON-escaped (`\"`, `\\`, `\/`,
 * `\u00e9`), HTML-escaped (`&amp;`, `&quot;`), and as the punycode host name a resolver is asked for. Values under
 * 4 characters are left: too short to be worth it, and common enough to blank out unrelated text.
 * `cut`: the text is the beginning of a longer one (an answer read up to its limit), so a value's beginning of 4
 * characters or more at its end is hidden as that value.
 */
export function redactSecrets(text: string, secrets: Record<string, string>, cut = false): string {
  const values = Object.entries(secrets)
    .filter(([, value]) => value.length >= 4)
    .map(([name, value]) => ({ value, marker: secretMarker(name) }));
  return replaceSecrets(text, values, cut);
}
