/** @jsx h */
// A labelled select for a GET filter form (events, incidents, checks), with its problem under it.
import { h, type Html } from '../jsx.js';

export function Select(props: {
  name: string;
  label: string;
  value: string | undefined;
  options: [string, string][];
  error?: string | undefined;
}): Html {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
      >
        {props.options.map(([value, label]) => (
          <option value={value} selected={(props.value ?? '') === value}>
            {label}
          </option>
        ))}
      </select>
      {props.error ? (
        <small id={`${id}-error`} class="error">
          {props.error}
        </small>
      ) : null}
    </div>
  );
}
