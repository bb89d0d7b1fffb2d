/** @jsx h */
/** @jsxFrag Fragment */
// Pieces the workflow pages share: status badges for runs, steps and dry-run steps (a word, never colour alone),
// a trigger in one line, JSON shown readably, and the definition editor — a monospace textarea with line numbers
// and the validation problems next to it, each with its path and the line it points at.
import { h, Fragment, type Html } from '../jsx.js';
import { formatJson } from '../json-text.js';

export const RUN_STATUSES = ['running', 'waiting', 'succeeded', 'failed', 'filtered'] as const;

const RUN_TONE: Record<string, string> = { filtered: '', running: 'warn', waiting: 'warn', succeeded: 'ok', failed: 'bad' };
const STEP_TONE: Record<string, string> = { pending: 'warn', succeeded: 'ok', failed: 'bad', skipped: '' };
const DRY_TONE: Record<string, string> = { would_run: 'ok', skipped: '', error: 'bad' };
const DRY_LABEL: Record<string, string> = { would_run: 'would run', skipped: 'skipped', error: 'error' };

const badge = (tone: string | undefined, text: string) => <span class={`badge ${tone ?? ''}`.trim()}>{text}</span>;

export const WorkflowRunBadge = (props: { status: string }) => badge(RUN_TONE[props.status], props.status);
export const StepBadge = (props: { status: string }) => badge(STEP_TONE[props.status], props.status);
export const DryStepBadge = (props: { status: string }) => badge(DRY_TONE[props.status], DRY_LABEL[props.status] ?? props.status);
export const EnabledBadge = (props: { enabled: boolean }) => (props.enabled ? badge('ok', 'enabled') : badge('', 'disabled'));

type TriggerShape = { source?: unknown; object?: unknown; actions?: unknown; type?: unknown; if?: unknown } | null | undefined;

/** A trigger in a line: `stripe · checkout_session · completed, expired`, or the one exact type; and its `if`. */
export function TriggerSummary(props: { trigger: unknown; withCondition?: boolean }): Html {
  const t = props.trigger as TriggerShape;
  if (!t || typeof t !== 'object') return <span class="muted">—</span>;
  const condition =
    props.withCondition !== false && typeof t.if === 'string' ? (
      <>
        {' '}
        <span class="muted">if</span> <code>{t.if}</code>
      </>
    ) : null;
  if (typeof t.type === 'string')
    return (
      <span class="trigger">
        <span class="muted">type</span> <code>{t.type}</code>
        {condition}
      </span>
    );
  const actions = Array.isArray(t.actions) ? (t.actions as unknown[]).map(String) : null;
  return (
    <span class="trigger">
      <code>{String(t.source)}</code> · <code>{String(t.object)}</code> ·{' '}
      {actions ? actions.map((a, i) => (i > 0 ? <>, {a}</> : a)) : <span class="muted">every action</span>}
      {condition}
    </span>
  );
}

/** A JSON value as readable, scrollable text (labelled, focusable so a keyboard can scroll it). */
export function JsonBlock(props: { value: unknown; label: string; width?: number }): Html {
  return (
    <pre class="payload json" tabindex="0" aria-label={props.label}>
      <code>{formatJson(props.value, props.width)}</code>
    </pre>
  );
}

export interface EditorProblem {
  path: string;
  message: string;
  /** The line of the definition the path points at (approximate: a missing field's enclosing value). */
  line?: number;
  exact?: boolean;
}

/** The line numbers beside the editor, drawn here for the text as sent (workflow-editor.js keeps them current
 *  while typing); lines with a problem are marked. */
function Gutter(props: { text: string; marked: Set<number> }): Html {
  const count = props.text.split('\n').length;
  const lines: Html[] = [];
  for (let n = 1; n <= count; n++) lines.push(props.marked.has(n) ? <span class="bad">{n}</span> : <span>{n}</span>);
  return (
    <div class="gutter" aria-hidden="true">
      {lines}
    </div>
  );
}

/** The definition editor: a textarea named `definition`, its line numbers, and (after a refused save) the problems. */
export function DefinitionEditor(props: { text: string; problems: EditorProblem[]; readOnly: boolean }): Html {
  const marked = new Set(props.problems.flatMap((p) => (p.line ? [p.line] : [])));
  const describedBy = props.problems.length > 0 ? 'definition-hint definition-problems' : 'definition-hint';
  return (
    <div class="field editor-field">
      <label for="definition">Definition (JSON)</label>
      <small id="definition-hint" class="hint">
        {props.readOnly
          ? 'Your role can read workflows but not change them: that needs the admin role.'
          : 'name, trigger and steps; saving checks the whole definition and, if anything is wrong, saves nothing and lists every problem.'}
      </small>
      <div class="json-editor" data-json-editor="">
        <Gutter text={props.text} marked={marked} />
        <textarea
          id="definition"
          name="definition"
          rows={Math.min(40, Math.max(14, props.text.split('\n').length + 2))}
          spellcheck="false"
          autocomplete="off"
          autocapitalize="off"
          wrap="off"
          readonly={props.readOnly}
          aria-invalid={props.problems.length > 0 ? 'true' : undefined}
          aria-describedby={describedBy}
          data-problem-lines={[...marked].join(',')}
        >
          {/* The parser drops one newline right after <textarea>: this one, so a text's own first line survives. */}
          {'\n' + props.text}
        </textarea>
      </div>
    </div>
  );
}

/** The problems of a refused save, each with its path and (when found) a link to its line in the editor. */
export function Problems(props: { problems: EditorProblem[] }): Html {
  if (props.problems.length === 0) return <></>;
  const n = props.problems.length;
  return (
    <section class="problems" id="definition-problems" aria-labelledby="h-problems" role="alert">
      <h2 id="h-problems">
        Not saved: {n} {n === 1 ? 'problem' : 'problems'}
      </h2>
      <ol>
        {props.problems.map((p) => (
          <li>
            <code class="path">{p.path || '(definition)'}</code>{' '}
            {p.line ? (
              <a href="#definition" class="line-link" data-line={String(p.line)}>
                {p.exact === false ? `near line ${p.line}` : `line ${p.line}`}
              </a>
            ) : null}
            <br />
            <span class="message">{p.message}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

export interface PickerObject {
  object: string;
  label: string;
  actions: string[];
}

/**
 * The trigger picker: source → object → actions, from the same catalogue the validation checks against, and a
 * button that writes the trigger into the editor (workflow-editor.js). Hidden until that script runs: without
 * JavaScript the trigger is written in the editor by hand.
 */
export function TriggerPicker(props: { catalog: Record<string, PickerObject[]>; sources: [string, string][] }): Html {
  return (
    <fieldset class="trigger-picker" id="trigger-picker" data-catalog={JSON.stringify(props.catalog)} hidden>
      <legend>Trigger picker</legend>
      <small class="hint">
        Choose what starts the workflow, then write it into the definition; its <code>if</code>, if any, is kept.
      </small>
      <div class="field">
        <label for="pick-source">Source</label>
        <select id="pick-source">
          {props.sources.map(([value, label]) => (
            <option value={value}>{label}</option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="pick-object">Object</label>
        <select id="pick-object"></select>
      </div>
      <fieldset class="pick-actions">
        <legend>Actions</legend>
        <small class="hint" id="pick-actions-hint">
          None ticked: every action of the object.
        </small>
        <ul id="pick-actions" class="pick-list"></ul>
      </fieldset>
      <button type="button" id="pick-write" class="secondary">
        Write trigger into the definition
      </button>
      <p id="pick-status" class="pick-status" role="status"></p>
    </fieldset>
  );
}

/** The editor with its problems and the trigger picker beside it, in one form that posts `definition`. */
export function EditorForm(props: {
  action: string;
  csrf: string | undefined;
  text: string;
  problems: EditorProblem[];
  readOnly: boolean;
  catalog: Record<string, PickerObject[]>;
  sources: [string, string][];
  submitLabel: string;
  /** Fields under the editor, before the button (the new page's "enabled" box). */
  extra?: Html;
}): Html {
  return (
    <form method="post" action={props.action} class="workflow-form" id="editor" novalidate>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <div class="editor-grid">
        <div class="editor-main">
          <DefinitionEditor text={props.text} problems={props.problems} readOnly={props.readOnly} />
          {props.extra ?? null}
          {props.readOnly ? null : (
            <div class="actions">
              <button type="submit">{props.submitLabel}</button>
            </div>
          )}
        </div>
        <div class="editor-side">
          <Problems problems={props.problems} />
          {props.readOnly ? null : <TriggerPicker catalog={props.catalog} sources={props.sources} />}
        </div>
      </div>
    </form>
  );
}
