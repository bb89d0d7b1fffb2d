/** @jsx h */
/** @jsxFrag Fragment */
// Settings → API keys (a new key is shown once), demo mode, members and their roles (an admin of every
// workspace adds and removes them; a new member's set-password link is shown once) and the audit log. "Once": on
// the GET the form redirects to; that address again says the value was shown once and how to get a new one.
import type { AuditView } from '../../services/audit/list-audit.js';
import type { UserView } from '../../services/users/user-view.js';
import type { ApiKeyView } from '../../services/workspaces/api-key-view.js';
import { CopyValue, Empty, Field, Flash, Time } from '../components/layout.js';
import { h, Fragment, type Html } from '../jsx.js';
import { CheckboxField, FormProblem, PostForm, problemsOf, SelectField, valuesOf, type FormState } from './settings-fields.js';

const ROLE_OPTIONS: [string, string][] = [
  ['viewer', 'viewer: reads, never sees a secret'],
  ['member', 'member: replays, retries, acknowledges'],
  ['admin', 'admin: connections, secrets, keys, settings'],
];

export function ApiKeysSection(props: {
  base: string;
  keys: ApiKeyView[] | undefined;
  created?: { key: string; name: string | null; role: string };
  /** The address of a new key already shown: say so, and how to get another. */
  shownOnce?: boolean;
  admin: boolean;
  state: FormState;
}): Html {
  const { state, base } = props;
  const problems = problemsOf(state, 'api-key');
  const values = valuesOf(state, 'api-key');
  const revokeProblems = problemsOf(state, 'api-key-revoke');
  return (
    <section aria-labelledby="api-keys">
      <h2 id="api-keys">API keys</h2>
      {!props.admin || !props.keys ? (
        <p class="muted">Only admins see the workspace's API keys.</p>
      ) : (
        <>
          {props.created ? (
            <div class="flash ok once" role="status" data-shown-once>
              <p>
                New {props.created.role} key{props.created.name ? ` “${props.created.name}”` : ''}. Copy it now: it is shown only once.
              </p>
              <CopyValue value={props.created.key} label="the new API key" />
            </div>
          ) : props.shownOnce ? (
            <div class="flash info once" role="status">
              <p>This API key was shown once and cannot be shown again. If you did not copy it, revoke it and create a new one below.</p>
            </div>
          ) : null}
          {props.keys.length === 0 ? (
            <Empty>No API key yet.</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="visually-hidden">API keys of this workspace</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Role</th>
                    <th scope="col">Starts with</th>
                    <th scope="col">Created</th>
                    <th scope="col">Last used</th>
                    <th scope="col">Action</th>
                  </tr>
                </thead>
                <tbody>
                  {props.keys.map((k) => (
                    <tr>
                      <td>{k.name ?? <span class="muted">unnamed</span>}</td>
                      <td>
                        <span class="badge">{k.role}</span>
                      </td>
                      <td>
                        <code>{k.prefix}…</code>
                      </td>
                      <td>
                        <Time at={k.createdAt} />
                      </td>
                      <td>
                        <Time at={k.lastUsedAt} />
                      </td>
                      <td>
                        <PostForm action={`${base}/api-keys/${k.id}/revoke`} csrf={state.csrf} class="inline">
                          <button type="submit" class="danger small" aria-label={`Revoke API key ${k.name ?? k.prefix}`}>
                            Revoke
                          </button>
                        </PostForm>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <FormProblem problems={revokeProblems} />
          {/* The answer (the new key, shown once on the GET a success redirects to, or the form's problems) is
              rendered in this section, far down a long page: the fragment opens it there rather than at the top. */}
          <PostForm action={`${base}/api-keys#api-keys`} csrf={state.csrf} label="Create an API key" class="filters">
            <Field
              label="Key name"
              name="keyName"
              value={values.keyName}
              error={problems.keyName}
              hint="What uses it, e.g. “billing sync”."
            />
            <SelectField
              label="Key role"
              name="keyRole"
              value={values.keyRole ?? 'viewer'}
              options={ROLE_OPTIONS}
              error={problems.keyRole}
            />
            <FormProblem problems={problems} />
            <button type="submit">Create API key</button>
          </PostForm>
        </>
      )}
    </section>
  );
}

export function DemoSection(props: { base: string; demo: boolean; admin: boolean; state: FormState }): Html {
  const problems = problemsOf(props.state, 'demo');
  return (
    <section aria-labelledby="demo">
      <h2 id="demo">Demo mode</h2>
      <p>
        Demo mode is <strong>{props.demo ? 'on' : 'off'}</strong>:{' '}
        {props.demo ? 'live-mode traffic is stored but ignored.' : 'every event is processed.'}
      </p>
      {props.admin ? (
        <PostForm action={`${props.base}/demo`} csrf={props.state.csrf} label="Demo mode">
          <input type="hidden" name="demo" value={props.demo ? 'off' : 'on'} />
          <FormProblem problems={problems} />
          <button type="submit" class="secondary">
            {props.demo ? 'Turn demo mode off' : 'Turn demo mode on'}
          </button>
        </PostForm>
      ) : null}
    </section>
  );
}

export function MembersSection(props: {
  base: string;
  members: UserView[];
  me: string;
  /** An admin of every workspace: may add and remove people. */
  mayManage: boolean;
  created?: { email: string; url: string };
  /** The address of a set-password link already shown: say so, and how to get another. */
  shownOnce?: boolean;
  state: FormState;
}): Html {
  const { state, base } = props;
  const problems = problemsOf(state, 'member');
  const values = valuesOf(state, 'member');
  const removeProblems = problemsOf(state, 'member-remove');
  return (
    <section aria-labelledby="members">
      <h2 id="members">Members and roles</h2>
      {props.created ? (
        <div class="flash ok once" role="status" data-shown-once>
          <p>{props.created.email} was added. Send them this link to set their password; it is shown only once and works once.</p>
          <CopyValue value={props.created.url} label="the set-password link" />
        </div>
      ) : props.shownOnce ? (
        <div class="flash info once" role="status">
          <p>
            The new member's set-password link was shown once and cannot be shown again. If it did not reach them, delete the user (
            <code>sluice user delete usr_…</code> or <code>DELETE /api/v1/users/:id</code>) and add them again for a new link.
          </p>
        </div>
      ) : null}
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">People who can open this workspace</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Workspaces</th>
              <th scope="col">Last sign-in</th>
              {props.mayManage ? <th scope="col">Action</th> : null}
            </tr>
          </thead>
          <tbody>
            {props.members.map((u) => (
              <tr>
                <td>
                  {u.email}
                  {u.hasPassword ? null : <span class="badge warn">invited</span>}
                </td>
                <td>
                  <span class="badge">{u.role}</span>
                </td>
                <td>{u.workspaces === null ? 'all' : `${u.workspaces.length}`}</td>
                <td>
                  <Time at={u.lastSignInAt} />
                </td>
                {props.mayManage ? (
                  <td>
                    {u.id === props.me ? (
                      <span class="muted">you</span>
                    ) : (
                      <PostForm action={`${base}/members/${u.id}/remove`} csrf={state.csrf} class="inline">
                        <button type="submit" class="danger small" aria-label={`Remove ${u.email}`}>
                          Remove
                        </button>
                      </PostForm>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <FormProblem problems={removeProblems} />
      {props.mayManage ? (
        // Like the API key form: the one-time link or the problems are in this section, so the answer opens here.
        <PostForm action={`${base}/members#members`} csrf={state.csrf} label="Add a member">
          <Field label="Member email" name="email" type="email" value={values.email} error={problems.email} autocomplete="off" />
          <SelectField
            label="Member role"
            name="memberRole"
            value={values.memberRole ?? 'viewer'}
            options={ROLE_OPTIONS}
            error={problems.memberRole}
          />
          <CheckboxField
            label="Every workspace (otherwise this one only)"
            name="allWorkspaces"
            checked={values.allWorkspaces === 'on'}
            error={problems.allWorkspaces}
          />
          <FormProblem problems={problems} />
          <button type="submit">Add member</button>
        </PostForm>
      ) : (
        <p class="muted">An admin of every workspace adds and removes members.</p>
      )}
    </section>
  );
}

function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

export function AuditSection(props: { entries: AuditView[] | undefined }): Html {
  return (
    <section aria-labelledby="audit">
      <h2 id="audit">Audit log</h2>
      {!props.entries ? (
        <p class="muted">Only admins see the audit log.</p>
      ) : props.entries.length === 0 ? (
        <Empty>Nothing recorded yet.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="audit">
            <caption class="visually-hidden">Newest changes to credentials and settings</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {props.entries.map((e) => (
                <tr>
                  <td>
                    <Time at={e.at} />
                  </td>
                  <td>{e.actorLabel === 'API key' ? `API key ${e.actor}` : (e.actorLabel ?? e.actor)}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>{e.target ? <code>{e.target}</code> : ''}</td>
                  <td>{detailText(e.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export { Flash };
