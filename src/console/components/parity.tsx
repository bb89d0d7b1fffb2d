/** @jsx h */
/** @jsxFrag Fragment */
// Pieces the incidents, checks and customer pages share: badges for severity and statuses (a word, never colour
// alone), an incident's subject as a link, its details (expected vs actual, the rule) and its evidence as links
// to the events, customers and check runs it names.
import { CHECK_RUN_PREFIX } from '../../services/parity/check-run-view.js';
import { h, Fragment, type Html } from '../jsx.js';
import { Time } from './layout.js';

export { CHECK_RUN_PREFIX };

const SEVERITY_TONE: Record<string, string> = { critical: 'bad', warning: 'warn', info: '' };
const INCIDENT_TONE: Record<string, string> = { open: 'bad', acknowledged: 'warn', resolved: 'ok', ignored: '' };
const RUN_TONE: Record<string, string> = { queued: '', running: 'warn', succeeded: 'ok', failed: 'bad' };

const badge = (tone: string | undefined, text: string) => <span class={`badge ${tone ?? ''}`.trim()}>{text}</span>;

export const SeverityBadge = (props: { severity: string }) => badge(SEVERITY_TONE[props.severity], props.severity);
export const IncidentStatusBadge = (props: { status: string }) => badge(INCIDENT_TONE[props.status], props.status);
export const RunStatusBadge = (props: { status: string }) => badge(RUN_TONE[props.status], props.status);

/** A kind as words: `access_missing` → "access missing". */
export const kindLabel = (kind: string): string => kind.replace(/_/g, ' ');

// Ids are opaque but prefixed (lib/ids.ts): the prefix says which page shows the thing.
const ID = /^[a-z]{2,4}_[0-9a-z]{24}$/;

/** The console page of an id, when there is one. */
export function pageOf(ws: string, id: string, runPrefix: string): string | undefined {
  if (!ID.test(id)) return undefined;
  const prefix = id.slice(0, id.indexOf('_'));
  const base = `/workspaces/${ws}`;
  if (prefix === 'cus') return `${base}/customers/${id}`;
  if (prefix === 'ev') return `${base}/events/${id}`;
  if (prefix === 'ep') return `${base}/endpoints/${id}`;
  if (prefix === 'inc') return `${base}/incidents/${id}`;
  if (prefix === 'dlv') return `${base}/deliveries/${id}`;
  if (prefix === runPrefix) return `${base}/checks/${id}`;
  return undefined;
}

/** An id as a link to its page (or as code when it has none). */
export function IdLink(props: { ws: string; id: string; runPrefix: string; label?: string }): Html {
  const href = pageOf(props.ws, props.id, props.runPrefix);
  const text = props.label ?? props.id;
  return href ? (
    <a href={href}>
      <code>{text}</code>
    </a>
  ) : (
    <code>{text}</code>
  );
}

/** What an incident is about: a customer, an endpoint, or the workspace as a whole. */
export function Subject(props: {
  ws: string;
  subject: string;
  kind: string;
  endpointId?: string | null;
  runPrefix: string;
  /** Customers' names by id (customerLabels), shown instead of the id. */
  labels?: Map<string, string>;
}): Html {
  const s = props.subject;
  if (props.kind === 'endpoint_disabled' && (props.endpointId || s.startsWith('ep_')))
    return <IdLink ws={props.ws} id={props.endpointId ?? s} runPrefix={props.runPrefix} />;
  const label = props.labels?.get(s);
  if (label !== undefined) return <a href={`/workspaces/${props.ws}/customers/${s}`}>{label}</a>;
  if (s.startsWith('cus_')) return <IdLink ws={props.ws} id={s} runPrefix={props.runPrefix} />;
  if (s === props.ws) return <span>the workspace</span>;
  return <code>{s}</code>;
}

/** A value from details or evidence as text a person reads: strings as they are, the rest as compact JSON. */
export function plain(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Words for a detail's key: `expectedStatus` → "Expected status", `p95Seconds` → "P95 seconds", `belowInARow` →
 *  "Below in a row" (a digit ends a word too, and a one-letter word is split from the capital word after it). */
export function words(key: string): string {
  const w = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .toLowerCase();
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** Details as a list: expected, actual and rule first (what every finding carries), then whatever else. */
export function Details(props: { details: Record<string, unknown> }): Html {
  const d = props.details ?? {};
  const first = ['expected', 'actual', 'rule'].filter((k) => k in d);
  const rest = Object.keys(d).filter((k) => !first.includes(k));
  if (first.length + rest.length === 0) return <p class="muted">No details recorded.</p>;
  return (
    <dl class="props details">
      {[...first, ...rest].map((k) => (
        <>
          <dt>{words(k)}</dt>
          <dd>
            {isTimestamp(d[k]) ? <Time at={d[k]} /> : typeof d[k] === 'object' && d[k] !== null ? <code>{plain(d[k])}</code> : plain(d[k])}
          </dd>
        </>
      ))}
    </dl>
  );
}

/** A time as the API writes one (ISO 8601, UTC): shown as the console shows every time, not as an id. */
const isTimestamp = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v);

/** The strings of an evidence value (one id, or a list of them). */
function idsIn(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
}

const EVIDENCE_LABEL: Record<string, string> = {
  runId: 'Check run',
  eventIds: 'Events',
  customerId: 'Customer',
  customerIds: 'Customers',
  subscriptionIds: 'Subscriptions',
  accessIds: 'Access rows',
  endpointId: 'Endpoint',
  deliveryIds: 'Deliveries',
};

/** Evidence: every id linked to its page (events, customers, the check run, endpoints, the previous incident). */
export function Evidence(props: { ws: string; evidence: Record<string, unknown>; runPrefix: string }): Html {
  const e = props.evidence ?? {};
  const keys = Object.keys(e);
  if (keys.length === 0) return <p class="muted">No evidence recorded.</p>;
  return (
    <dl class="props evidence">
      {keys.map((k) => {
        const ids = idsIn(e[k]);
        return (
          <>
            <dt>{EVIDENCE_LABEL[k] ?? words(k)}</dt>
            <dd>
              {isTimestamp(e[k]) ? (
                <Time at={e[k]} />
              ) : ids ? (
                ids.length === 0 ? (
                  <span class="muted">none</span>
                ) : (
                  <ul class="ids">
                    {ids.slice(0, 50).map((id) => (
                      <li>
                        <IdLink ws={props.ws} id={id} runPrefix={props.runPrefix} />
                      </li>
                    ))}
                    {ids.length > 50 ? <li class="muted">and {ids.length - 50} more</li> : null}
                  </ul>
                )
              ) : (
                <code>{plain(e[k])}</code>
              )}
            </dd>
          </>
        );
      })}
    </dl>
  );
}

/** A duration in milliseconds as a person reads it. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
