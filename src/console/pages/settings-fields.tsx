/** @jsx h */
/** @jsxFrag Fragment */
// Form pieces of the settings page beyond layout's Field: a select, a textarea, a checkbox, the form-level
// problem, and the shared state every section renders from (which form failed, its problems, what was typed).
import { Flash } from '../components/layout.js';
import { h, Fragment, type Child, type Html } from '../jsx.js';

export type SettingsForm =
  | 'stripe-secret'
  | 'stripe-secret-remove'
  | 'stripe-key'
  | 'stripe-mode'
  | 'stripe-enabled'
  | 'stripe-endpoint'
  | 'piano'
  | 'forward'
  | 'forward-remove'
  | 'api-key'
  | 'api-key-revoke'
  | 'demo'
  | 'member'
  | 'member-remove'
  | 'email'
  | 'email-remove';

/** What a section needs besides the data: the CSRF token, and the failed form's problems and typed values. */
export interface FormState {
  csrf: string;
  form?: SettingsForm;
  problems?: Record<string, string>;
  values?: Record<string, string>;
}

export function problemsOf(state: FormState, form: SettingsForm): Record<string, string> {
  return state.form === form ? (state.problems ?? {}) : {};
}

export function valuesOf(state: FormState, form: SettingsForm): Record<string, string> {
  return state.form === form ? (state.values ?? {}) : {};
}

function describedBy(id: string, error?: string, hint?: string): string | undefined {
  return [error ? `${id}-error` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
}

function Problem(props: { id: string; error?: string; hint?: string }): Html {
  return (
    <>
      {props.hint ? (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      ) : null}
      {props.error ? (
        <small id={`${props.id}-error`} class="error">
          {props.error}
        </small>
      ) : null}
    </>
  );
}

export function SelectField(props: {
  label: string;
  name: string;
  options: [string, string][];
  value?: string;
  error?: string;
  hint?: string;
}): Html {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      >
        {props.options.map(([value, label]) => (
          <option value={value} selected={value === props.value}>
            {label}
          </option>
        ))}
      </select>
      <Problem id={id} error={props.error} hint={props.hint} />
    </div>
  );
}

export function TextAreaField(props: { label: string; name: string; value?: string; error?: string; hint?: string; rows?: number }): Html {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        name={props.name}
        rows={props.rows ?? 4}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      >
        {props.value ?? ''}
      </textarea>
      <Problem id={id} error={props.error} hint={props.hint} />
    </div>
  );
}

export function CheckboxField(props: { label: string; name: string; checked: boolean; error?: string; hint?: string }): Html {
  const id = `f-${props.name}`;
  return (
    <div class="field checkbox">
      <label for={id}>
        <input
          type="checkbox"
          id={id}
          name={props.name}
          value="on"
          checked={props.checked}
          aria-invalid={props.error ? 'true' : undefined}
          aria-describedby={describedBy(id, props.error, props.hint)}
        />{' '}
        {props.label}
      </label>
      <Problem id={id} error={props.error} hint={props.hint} />
    </div>
  );
}

/** The problem of a form that belongs to no single field (Stripe down, nothing to connect with). */
export function FormProblem(props: { problems: Record<string, string> }): Html {
  return props.problems._ ? <Flash kind="error">{props.problems._}</Flash> : <></>;
}

/** A POST form of the settings page with its CSRF token. */
export function PostForm(props: { action: string; csrf: string; class?: string; label?: string; children?: Child }): Html {
  return (
    <form method="post" action={props.action} class={props.class}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
    </form>
  );
}
