/** @jsx h */
/** @jsxFrag Fragment */
// Settings → Stripe: the webhook URL to paste into Stripe, where the connection stands, the signing secrets
// (added one by one so a rotation overlaps, removed when Stripe stopped using them), the API key with "Test &
// connect", "Generate base webhook" and the extra endpoints, and the mode. Admins see masked secrets (last four
// characters); everyone else sees counts only, and no form.
import type { StripeConnectionView } from '../../services/connections/stripe-connection.js';
import type { ManagedEndpointRecord, StripeSecretsView } from '../../services/connections/stripe-secrets-view.js';
import { CopyValue, Empty, Field, Time } from '../components/layout.js';
import { h, Fragment, type Html } from '../jsx.js';
import { FormProblem, PostForm, problemsOf, SelectField, TextAreaField, valuesOf, type FormState } from './settings-fields.js';

export interface StripeSectionProps {
  base: string;
  webhookUrl: string;
  connection: StripeConnectionView | null;
  /** Only for admins. */
  secrets: StripeSecretsView | undefined;
  endpoints: ManagedEndpointRecord[];
  handledTypes: number;
  admin: boolean;
  state: FormState;
}

function ConnectedCard(props: { connection: StripeConnectionView | null; endpoints: number }): Html {
  const c = props.connection;
  const connected = c !== null && c.secretsReadable && c.webhookSecretCount > 0;
  return (
    <div class="card stripe-card" aria-labelledby="stripe-state">
      <h3 id="stripe-state">
        {c && !c.secretsReadable ? 'Stripe secrets' : 'Stripe'}{' '}
        <span class={`badge ${connected ? 'ok' : c && !c.secretsReadable ? 'bad' : 'warn'}`}>
          {connected ? 'connected' : c && !c.secretsReadable ? 'unreadable' : 'not connected'}
        </span>
      </h3>
      <dl class="props">
        <dt>Signing secrets</dt>
        <dd>{c ? c.webhookSecretCount : 0}</dd>
        <dt>API key</dt>
        <dd>{c?.hasApiKey ? 'stored' : 'none'}</dd>
        <dt>Webhooks</dt>
        <dd>{c ? c.enabled ? 'taken in' : <span class="badge warn">switched off</span> : '—'}</dd>
        <dt>Mode</dt>
        <dd>{c?.mode ?? 'test and live'}</dd>
        <dt>Endpoints created</dt>
        <dd>{props.endpoints}</dd>
        <dt>Last change</dt>
        <dd>
          <Time at={c?.updatedAt} />
        </dd>
      </dl>
      {c && !c.secretsReadable ? (
        <p>The master key cannot open the stored secrets: add a signing secret and the API key again.</p>
      ) : !connected ? (
        <p>Add the signing secret of your Stripe endpoint, or connect an API key and generate the webhook.</p>
      ) : null}
    </div>
  );
}

export function StripeSection(props: StripeSectionProps): Html {
  const { state, base } = props;
  const secretProblems = problemsOf(state, 'stripe-secret');
  const removeProblems = problemsOf(state, 'stripe-secret-remove');
  const keyProblems = problemsOf(state, 'stripe-key');
  const modeProblems = problemsOf(state, 'stripe-mode');
  const modeValues = valuesOf(state, 'stripe-mode');
  const endpointProblems = problemsOf(state, 'stripe-endpoint');
  const endpointValues = valuesOf(state, 'stripe-endpoint');
  return (
    <section aria-labelledby="stripe">
      <h2 id="stripe">Stripe</h2>
      <div class="two">
        <div>
          <h3>Webhook URL</h3>
          <p>Paste this into Stripe (Developers → Webhooks → Add endpoint), or let “Generate base webhook” do it.</p>
          <CopyValue value={props.webhookUrl} label="Stripe webhook URL" />
        </div>
        <ConnectedCard connection={props.connection} endpoints={props.endpoints.length} />
      </div>

      <h3>Signing secrets</h3>
      <p>
        {props.connection?.webhookSecretCount ?? 0} stored. Events signed with any of them are accepted, so a rotation overlaps: add the new
        secret, roll the endpoint in Stripe, then remove the old one.
      </p>
      {props.admin && props.secrets ? (
        props.secrets.signingSecrets.length === 0 ? (
          <Empty>No signing secret yet.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Stored Stripe signing secrets (masked)</caption>
              <thead>
                <tr>
                  <th scope="col">Secret</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {props.secrets.signingSecrets.map((s) => (
                  <tr>
                    <td>
                      <code class="secret-masked">{s.masked}</code>
                    </td>
                    <td>
                      <PostForm action={`${base}/stripe/secrets/remove`} csrf={state.csrf} class="inline">
                        <input type="hidden" name="fingerprint" value={s.fingerprint} />
                        <button type="submit" class="danger small" aria-label={`Remove signing secret ending ${s.masked.slice(-4)}`}>
                          Remove
                        </button>
                      </PostForm>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      {props.admin ? (
        <>
          <FormProblem problems={removeProblems} />
          <PostForm action={`${base}/stripe/secrets`} csrf={state.csrf} label="Add a signing secret">
            <Field
              label="Signing secret"
              name="webhookSecret"
              type="password"
              autocomplete="off"
              placeholder="whsec_…"
              error={secretProblems.webhookSecret}
              hint="From the endpoint's page in Stripe (Signing secret → Reveal). It is stored sealed and never shown again."
            />
            <FormProblem problems={secretProblems} />
            <button type="submit">Add signing secret</button>
          </PostForm>

          <h3>API key</h3>
          <p>
            {props.secrets?.apiKey ? (
              <>
                Stored: <code class="secret-masked">{props.secrets.apiKey.masked}</code> ({props.secrets.apiKey.mode} mode). A new key
                replaces it.
              </>
            ) : (
              'No API key stored. It lets Sluice create the webhook in Stripe, check it, and settle same-second ties.'
            )}
          </p>
          <PostForm action={`${base}/stripe/api-key`} csrf={state.csrf} label="Stripe API key">
            <Field
              label="Stripe API key"
              name="apiKey"
              type="password"
              autocomplete="off"
              placeholder="sk_test_… or rk_live_…"
              error={keyProblems.apiKey}
              hint="Write-only. A restricted key needs write on Webhook Endpoints and read on the objects the CRM keeps."
            />
            <FormProblem problems={keyProblems} />
            <button type="submit">{'Test & connect'}</button>
          </PostForm>
        </>
      ) : (
        <p class="muted">Only admins see and change the signing secrets and the API key.</p>
      )}

      <h3>Webhook endpoints in Stripe</h3>
      {props.endpoints.length === 0 ? (
        <Empty>No endpoint created from here yet.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Webhook endpoints created in Stripe for this workspace</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Events</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {props.endpoints.map((e, i) => (
                <tr>
                  <td>
                    <code>{e.id}</code>
                    {i === 0 ? <span class="badge">base</span> : <span class="badge">extra</span>}
                  </td>
                  <td>
                    <details>
                      <summary>{e.enabledEvents.length} event types</summary>
                      <ul class="event-list">
                        {e.enabledEvents.map((t) => (
                          <li>
                            <code>{t}</code>
                          </li>
                        ))}
                      </ul>
                    </details>
                  </td>
                  <td>
                    <Time at={e.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.admin ? (
        <PostForm action={`${base}/stripe/endpoints`} csrf={state.csrf} label="Generate a webhook endpoint in Stripe">
          <TextAreaField
            label="Event types (optional)"
            name="enabledEvents"
            value={endpointValues.enabledEvents}
            error={endpointProblems.enabledEvents}
            hint={`Leave empty for the base webhook: the ${props.handledTypes} types the CRM handles. Or list types (one per line) for an extra endpoint.`}
          />
          <FormProblem problems={endpointProblems} />
          <button type="submit">Generate base webhook</button>
        </PostForm>
      ) : null}

      {props.connection ? (
        <>
          <h3>Webhooks on or off</h3>
          <p>
            {props.connection.enabled
              ? 'Stripe webhooks are taken in.'
              : 'Stripe webhooks are switched off: each is answered 503 and Stripe retries it for up to three days, so nothing is lost if you switch them on again within that time.'}
          </p>
          {props.admin ? (
            <PostForm action={`${base}/stripe/enabled`} csrf={state.csrf} label="Stripe webhooks on or off" class="filters">
              <input type="hidden" name="enabled" value={props.connection.enabled ? 'false' : 'true'} />
              <button type="submit" class={props.connection.enabled ? 'danger' : ''}>
                {props.connection.enabled ? 'Switch webhooks off' : 'Switch webhooks on'}
              </button>
            </PostForm>
          ) : null}
        </>
      ) : null}

      <h3>Mode</h3>
      <p>
        {props.connection?.mode
          ? `Only ${props.connection.mode}-mode events are processed.`
          : 'Test and live events are both processed (no mode set).'}
      </p>
      {props.admin ? (
        <PostForm action={`${base}/stripe/mode`} csrf={state.csrf} label="Stripe mode" class="filters">
          <SelectField
            label="Process events of"
            name="mode"
            value={modeValues.mode ?? props.connection?.mode ?? ''}
            options={[
              // No mode set: the select says so instead of showing "test mode" as if it were chosen.
              ...(props.connection?.mode ? [] : ([['', 'both (no mode set)']] as [string, string][])),
              ['test', 'test mode only'],
              ['live', 'live mode only'],
            ]}
            error={modeProblems.mode}
          />
          <FormProblem problems={modeProblems} />
          <button type="submit" class="secondary">
            Save mode
          </button>
        </PostForm>
      ) : null}
    </section>
  );
}
