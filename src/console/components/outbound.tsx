/** @jsx h */
/** @jsxFrag Fragment */
// Pieces the endpoint, delivery, message and REST Hooks pages share: status badges (always with words, never
// colour alone), the success sparkline (an inline SVG drawn here, shapes differ by outcome), the event-type
// picker, and small helpers for the query strings of filters and pagers.
import { h, Fragment, type Html } from '../jsx.js';
import type { EndpointView } from '../../services/outbound/endpoint-view.js';
import type { Outcome } from '../../services/outbound/endpoint-activity.js';
import type { TypeChoice } from '../../services/outbound/event-type-choices.js';

export function endpointStatus(e: Pick<EndpointView, 'state' | 'failingSince'>): { label: string; tone: 'ok' | 'warn' | 'bad' } {
  if (e.state === 'disabled') return { label: 'disabled', tone: 'bad' };
  if (e.state === 'paused') return { label: 'paused', tone: 'warn' };
  if (e.failingSince) return { label: 'failing', tone: 'bad' };
  return { label: 'enabled', tone: 'ok' };
}

export function EndpointStatus(props: { endpoint: Pick<EndpointView, 'state' | 'failingSince'> }): Html {
  const s = endpointStatus(props.endpoint);
  return <span class={`badge ${s.tone}`}>{s.label}</span>;
}

const DELIVERY_TONE: Record<string, 'ok' | 'warn' | 'bad'> = { succeeded: 'ok', pending: 'warn', failed: 'bad' };

export function DeliveryStatus(props: { status: string; attempts?: number }): Html {
  const label = props.status === 'pending' && (props.attempts ?? 0) > 0 ? 'retrying' : props.status;
  return <span class={`badge ${DELIVERY_TONE[props.status] ?? ''}`}>{label}</span>;
}

export function EventTypes(props: { types: string[] }): Html {
  if (props.types.length === 0) return <span class="muted">all events</span>;
  return (
    <ul class="types">
      {props.types.map((t) => (
        <li>
          <code>{t}</code>
        </li>
      ))}
    </ul>
  );
}

// Bars above the middle line are successes; below it, failures (full) and retries (half); a dot on the line is
// a delivery not tried yet. Shape and position carry the meaning; colour repeats it; the label says it in words.
const BAR = 4;
const GAP = 1;
const HEIGHT = 20;
const MID = HEIGHT / 2;

export function Sparkline(props: { outcomes: Outcome[] }): Html {
  const o = props.outcomes;
  if (o.length === 0) return <span class="muted">no deliveries yet</span>;
  const count = (k: Outcome) => o.filter((x) => x === k).length;
  const ok = count('succeeded');
  const parts = [`${ok} succeeded`, `${count('failed')} failed`, `${count('retrying')} retrying`, `${count('pending')} waiting`];
  const label = `Last ${o.length} deliveries, oldest first: ${parts.join(', ')}`;
  const width = o.length * (BAR + GAP);
  return (
    <span class="spark-wrap">
      <svg class="spark" width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} role="img" aria-label={label}>
        <line class="mid" x1="0" y1={MID} x2={width} y2={MID} stroke-width="1" />
        {o.map((x, i) => {
          const at = i * (BAR + GAP);
          if (x === 'succeeded') return <rect class="ok" x={at} y="1" width={BAR} height={MID - 1} />;
          if (x === 'failed') return <rect class="bad" x={at} y={MID} width={BAR} height={MID - 1} />;
          if (x === 'retrying') return <rect class="warn" x={at} y={MID} width={BAR} height={MID / 2} />;
          return <rect class="wait" x={at} y={MID - 1} width={BAR} height="2" />;
        })}
      </svg>{' '}
      <span class="spark-text">
        {ok}/{o.length} ok
      </span>
    </span>
  );
}

/** Checkboxes of the catalog's types (and this workspace's custom ones) plus a text field for the others. */
export function TypePicker(props: {
  choices: { business: TypeChoice[]; providers: TypeChoice[]; custom: TypeChoice[] };
  selected: string[];
  other?: string;
  error?: string;
  idPrefix: string;
}): Html {
  const known = new Set([...props.choices.business, ...props.choices.providers, ...props.choices.custom].map((c) => c.type));
  const other = props.other ?? props.selected.filter((t) => !known.has(t)).join(' ');
  const errorId = `${props.idPrefix}-eventTypes-error`;
  let n = 0;
  const group = (title: string, list: TypeChoice[]) =>
    list.length === 0 ? null : (
      <div class="type-group">
        <p class="type-group-title">{title}</p>
        <ul class="type-grid">
          {list.map((c) => {
            const id = `${props.idPrefix}-t${n++}`;
            return (
              <li>
                <input type="checkbox" id={id} name="types" value={c.type} checked={props.selected.includes(c.type)} />{' '}
                <label for={id}>
                  <code>{c.type}</code> <small class="muted">{c.description}</small>
                </label>
              </li>
            );
          })}
        </ul>
      </div>
    );
  return (
    <fieldset
      class="type-picker"
      id={`${props.idPrefix}-eventTypes`}
      aria-describedby={props.error ? errorId : `${props.idPrefix}-eventTypes-hint`}
    >
      <legend>Event types</legend>
      <small class="hint" id={`${props.idPrefix}-eventTypes-hint`}>
        Leave every box empty to receive every event.
      </small>
      {props.error ? (
        <small id={errorId} class="error">
          {props.error}
        </small>
      ) : null}
      {group('Business events', props.choices.business)}
      {group('Raw provider events', props.choices.providers)}
      {group('Custom events of this workspace', props.choices.custom)}
      <div class="field">
        <label for={`${props.idPrefix}-moreTypes`}>Other types or patterns</label>
        <input
          id={`${props.idPrefix}-moreTypes`}
          name="moreTypes"
          type="text"
          value={other}
          placeholder="stripe.invoice.paid subscription.*"
          aria-invalid={props.error ? 'true' : undefined}
          aria-describedby={props.error ? errorId : `${props.idPrefix}-moreTypes-hint`}
        />
        <small class="hint" id={`${props.idPrefix}-moreTypes-hint`}>
          Separated by spaces or commas: exact types such as stripe.invoice.paid, or prefixes such as subscription.*
        </small>
      </div>
    </fieldset>
  );
}

/** The event types a picker's form sent: the boxes ticked and the words typed, each once. */
export function pickedTypes(types: string[], more: string | undefined): string[] {
  const typed = (more ?? '')
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
  return [...new Set([...types, ...typed])];
}

/** A query string of the non-empty values, for filter and pager links. */
export function qs(values: Record<string, string | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A value from a query string, as a string (the first, if repeated), or undefined. */
export function q1(query: unknown, name: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

/** A time typed in a datetime-local input (no zone) read as UTC, as the label says; other forms pass as they are. */
export function utcInput(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
}

export function Pager(props: { newest?: string; older?: string; what: string }): Html {
  if (!props.newest && !props.older) return <></>;
  return (
    <nav class="pager" aria-label={`Pages of ${props.what}`}>
      {props.newest ? <a href={props.newest}>Newest {props.what}</a> : null}
      {props.older ? <a href={props.older}>Older {props.what}</a> : null}
    </nav>
  );
}
