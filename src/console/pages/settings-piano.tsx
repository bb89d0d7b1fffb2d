/** @jsx h */
/** @jsxFrag Fragment */
// Settings → Piano: the application id, its private key and API token (write-only), the region, the one URL to
// paste into Piano (the proxy: every webhook is stored and re-sent unchanged to each forward destination), and
// those destinations with their delivery status.
import type { PianoConnectionView } from '../../services/connections/piano-connection.js';
import type { EndpointView } from '../../services/outbound/endpoint-view.js';
import { CopyValue, Empty, Field, Time } from '../components/layout.js';
import { h, Fragment, type Html } from '../jsx.js';
import { FormProblem, PostForm, problemsOf, SelectField, valuesOf, type FormState } from './settings-fields.js';

export const REGION_LABELS: [string, string][] = [
  ['us', 'US (api.piano.io)'],
  ['eu', 'Europe'],
  ['ap', 'Asia-Pacific'],
  ['au', 'Australia'],
  ['sandbox', 'Sandbox'],
];

function forwardStatus(f: EndpointView): Html {
  if (f.state !== 'enabled') return <span class="badge bad">{f.state}</span>;
  if (f.failingSince) return <span class="badge warn">failing</span>;
  if (f.lastSuccessAt) return <span class="badge ok">delivering</span>;
  return <span class="badge">no delivery yet</span>;
}

export function PianoSection(props: {
  base: string;
  webhookUrl: string;
  connection: PianoConnectionView | null;
  forwards: EndpointView[];
  admin: boolean;
  state: FormState;
}): Html {
  const { state, base, connection: c } = props;
  const problems = problemsOf(state, 'piano');
  const values = valuesOf(state, 'piano');
  const fwdProblems = problemsOf(state, 'forward');
  const fwdValues = valuesOf(state, 'forward');
  const removeProblems = problemsOf(state, 'forward-remove');
  return (
    <section aria-labelledby="piano">
      <h2 id="piano">Piano</h2>
      <div class="two">
        <div>
          <h3>Piano webhook (proxy) URL</h3>
          <p>Set this as the webhook URL of your Piano application; Sluice forwards each webhook to the destinations below.</p>
          <CopyValue value={props.webhookUrl} label="Piano webhook URL" />
        </div>
        <div class="card" aria-labelledby="piano-state">
          <h3 id="piano-state">
            {c && !c.secretsReadable ? 'Piano secrets' : 'Piano'}{' '}
            <span class={`badge ${c ? (c.secretsReadable ? 'ok' : 'bad') : 'warn'}`}>
              {c ? (c.secretsReadable ? 'connected' : 'unreadable') : 'not connected'}
            </span>
          </h3>
          <dl class="props">
            <dt>Application id</dt>
            <dd>{c ? <code>{c.aid}</code> : '—'}</dd>
            <dt>Region</dt>
            <dd>{c?.region ?? '—'}</dd>
            <dt>Private key</dt>
            <dd>{c ? 'stored' : 'none'}</dd>
            <dt>API token</dt>
            <dd>{c?.hasApiToken ? 'stored' : 'none'}</dd>
            <dt>Forwarding to</dt>
            <dd>{c?.forwards ?? 0} destination(s)</dd>
            <dt>Last change</dt>
            <dd>
              <Time at={c?.updatedAt} />
            </dd>
          </dl>
        </div>
      </div>

      {props.admin ? (
        <PostForm action={`${base}/piano`} csrf={state.csrf} label="Piano credentials">
          <Field
            label="Application id (aid)"
            name="aid"
            value={values.aid ?? c?.aid}
            error={problems.aid}
            autocomplete="off"
            hint="Piano dashboard → Manage → Applications."
          />
          <Field
            label="Private key"
            name="privateKey"
            type="password"
            autocomplete="off"
            error={problems.privateKey}
            hint={c ? 'Write-only: leave empty to keep the stored key.' : 'Decrypts and checks the webhooks. Stored sealed.'}
          />
          <Field
            label="API token"
            name="apiToken"
            type="password"
            autocomplete="off"
            error={problems.apiToken}
            hint={c?.hasApiToken ? 'Write-only: leave empty to keep the stored token.' : 'Optional, for calls to the Piano API.'}
          />
          <SelectField
            label="Region"
            name="region"
            value={values.region ?? c?.region ?? 'us'}
            options={REGION_LABELS}
            error={problems.region}
          />
          <FormProblem problems={problems} />
          <button type="submit">Save Piano connection</button>
        </PostForm>
      ) : null}

      <h3>Forward destinations</h3>
      {props.forwards.length === 0 ? (
        <Empty>No forward destination: Piano webhooks are stored here only.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Piano forward destinations</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Description</th>
                <th scope="col">Status</th>
                <th scope="col">Last success</th>
                {props.admin ? <th scope="col">Action</th> : null}
              </tr>
            </thead>
            <tbody>
              {props.forwards.map((f) => (
                <tr>
                  <td>
                    <code>{f.url}</code>
                  </td>
                  <td>{f.description ?? ''}</td>
                  <td>{forwardStatus(f)}</td>
                  <td>
                    <Time at={f.lastSuccessAt} />
                  </td>
                  {props.admin ? (
                    <td>
                      <PostForm action={`${base}/piano/forwards/${f.id}/remove`} csrf={state.csrf} class="inline">
                        <button type="submit" class="danger small" aria-label={`Remove forward destination ${f.url}`}>
                          Remove
                        </button>
                      </PostForm>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <FormProblem problems={removeProblems} />
      {props.admin ? (
        c ? (
          <PostForm action={`${base}/piano/forwards`} csrf={state.csrf} label="Add a forward destination">
            <Field
              label="Destination URL"
              name="forwardUrl"
              type="url"
              value={fwdValues.forwardUrl}
              error={fwdProblems.forwardUrl}
              placeholder="https://example.com/piano-webhook"
            />
            <Field
              label="Description"
              name="forwardDescription"
              value={fwdValues.forwardDescription}
              error={fwdProblems.forwardDescription}
            />
            <FormProblem problems={fwdProblems} />
            <button type="submit">Add destination</button>
          </PostForm>
        ) : (
          <p class="muted">Connect Piano first to add forward destinations.</p>
        )
      ) : null}
    </section>
  );
}
