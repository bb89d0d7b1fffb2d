/** @jsx h */
/** @jsxFrag Fragment */
// The page frame: head with the CSP nonce on every script, the header with the workspace switcher and the user,
// the navigation of a workspace, and the main content. htmx requests get the main content alone (`partial`).
import { OPEN_INCIDENTS_CAP } from '../../services/incidents/count-open-incidents.js';
import { h, Fragment, type Child, type Html } from '../jsx.js';

export interface PageUser {
  email: string;
  role: string;
}

export interface WorkspaceLink {
  id: string;
  name: string;
}

export interface LayoutProps {
  title: string;
  nonce: string;
  csrf?: string;
  user?: PageUser;
  /** The workspace the page belongs to, with the others the user may switch to. */
  workspace?: WorkspaceLink;
  workspaces?: WorkspaceLink[];
  /** The navigation item to mark as current. */
  current?: string;
  /** Open incidents of the workspace, shown as a badge on the "Incidents" item (none when 0). */
  openIncidents?: number;
  /** Extra scripts of this page (paths under /assets/). */
  scripts?: string[];
  /** Extra stylesheets of this page (paths under /assets/), e.g. 'uplot.css' for charts. */
  styles?: string[];
  children?: Child;
}

const NAV: [string, string][] = [
  ['overview', 'Overview'],
  ['events', 'Events'],
  ['endpoints', 'Endpoints'],
  ['messages', 'Messages'],
  ['customers', 'Customers'],
  ['workflows', 'Workflows'],
  ['incidents', 'Incidents'],
  ['checks', 'Checks'],
  ['troubleshooting', 'Troubleshooting'],
  ['settings', 'Settings'],
];

function WorkspaceSwitcher(props: { workspace: WorkspaceLink; workspaces: WorkspaceLink[]; current: string }): Html {
  return (
    <form method="get" action="/go" class="switcher" data-autosubmit="">
      <label for="ws-switch" class="visually-hidden">
        Workspace
      </label>
      <select id="ws-switch" name="ws">
        {props.workspaces.map((w) => (
          <option value={w.id} selected={w.id === props.workspace.id}>
            {w.name}
          </option>
        ))}
      </select>
      <input type="hidden" name="page" value={props.current} />
      <button type="submit" class="secondary small">
        Open
      </button>
    </form>
  );
}

/** The open-incident badge: the number, and in words for screen readers ("Incidents 3 open"). */
function OpenCount(props: { n: number }): Html {
  const shown = props.n >= OPEN_INCIDENTS_CAP ? `${OPEN_INCIDENTS_CAP - 1}+` : String(props.n);
  return (
    <>
      {' '}
      <span class="badge bad nav-count" data-open-incidents={String(props.n)}>
        {shown}
        <span class="visually-hidden"> open</span>
      </span>
    </>
  );
}

export function Layout(props: LayoutProps): Html {
  const scripts = ['htmx.min.js', 'htmx-sse.js', 'console.js', ...(props.scripts ?? [])];
  const htmxConfig = JSON.stringify({ includeIndicatorStyles: false, allowEval: false, allowScriptTags: false, historyCacheSize: 0 });
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={htmxConfig} />
        <meta name="color-scheme" content="light dark" />
        <title>{props.title} · Sluice</title>
        <link rel="stylesheet" href="/assets/console.css" />
        {(props.styles ?? []).map((s) => (
          <link rel="stylesheet" href={`/assets/${s}`} />
        ))}
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        {scripts.map((s) => (
          <script src={`/assets/${s}`} nonce={props.nonce} defer=""></script>
        ))}
      </head>
      <body hx-headers={props.csrf ? JSON.stringify({ 'X-CSRF-Token': props.csrf }) : undefined}>
        <a href="#main" class="skip">
          Skip to content
        </a>
        <header class="top">
          <a href="/" class="brand" aria-label="Sluice home">
            Sluice
          </a>
          {props.workspace && props.workspaces ? (
            <WorkspaceSwitcher workspace={props.workspace} workspaces={props.workspaces} current={props.current ?? 'overview'} />
          ) : null}
          <div class="spacer"></div>
          <button type="button" class="secondary small" id="theme-toggle" aria-label="Switch between light and dark theme">
            Theme
          </button>
          {props.user ? (
            <form method="post" action="/logout" class="inline">
              <input type="hidden" name="_csrf" value={props.csrf} />
              <span class="who">
                {props.user.email} <span class="badge">{props.user.role}</span>
              </span>{' '}
              <button type="submit" class="secondary small">
                Sign out
              </button>
            </form>
          ) : null}
        </header>
        {props.workspace ? (
          <nav class="tabs" aria-label="Workspace">
            <ul>
              {NAV.map(([slug, label]) => (
                <li>
                  <a href={`/workspaces/${props.workspace!.id}/${slug}`} aria-current={props.current === slug ? 'page' : undefined}>
                    {label}
                    {slug === 'incidents' && props.openIncidents ? <OpenCount n={props.openIncidents} /> : null}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        <main id="main">{props.children}</main>
      </body>
    </html>
  );
}

/** A labelled input with its problem, if any, right under it (and tied to it for screen readers). */
export function Field(props: {
  label: string;
  name: string;
  type?: string;
  value?: string;
  error?: string;
  required?: boolean;
  autocomplete?: string;
  placeholder?: string;
  hint?: string;
}): Html {
  const id = `f-${props.name}`;
  const describedBy = [props.error ? `${id}-error` : '', props.hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        autocomplete={props.autocomplete}
        placeholder={props.placeholder}
        aria-invalid={props.error ? 'true' : undefined}
        aria-describedby={describedBy}
      />
      {props.hint ? (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      ) : null}
      {props.error ? (
        <small id={`${id}-error`} class="error">
          {props.error}
        </small>
      ) : null}
    </div>
  );
}

/** A value with a button that copies it (console.js); the value stays selectable for keyboard users. */
export function CopyValue(props: { value: string; label: string }): Html {
  return (
    <div class="copy">
      <code>{props.value}</code>
      <button type="button" class="secondary small" data-copy={props.value} aria-label={`Copy ${props.label}`}>
        Copy
      </button>
    </div>
  );
}

export function Flash(props: { kind: 'ok' | 'error' | 'info'; children?: Child }): Html {
  return (
    <p class={`flash ${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </p>
  );
}

/** A time as text a person reads (UTC, to the second), with the machine value for tooltips and scripts. */
export function Time(props: { at: string | Date | null | undefined }): Html {
  if (!props.at) return <span class="muted">—</span>;
  const iso = new Date(props.at).toISOString();
  return (
    <time datetime={iso} title={iso}>
      {iso.slice(0, 19).replace('T', ' ')}
    </time>
  );
}

export function Empty(props: { children?: Child }): Html {
  return <p class="empty">{props.children}</p>;
}

export { Fragment };
