/** @jsx h */
/** @jsxFrag Fragment */
// Settings → Email (SMTP): the server workflow email steps send through. Everyone reads the settings (never the
// password, only whether one is stored); admins change or remove them. Inputs are named smtp* because every form
// of the settings page shares one id space.
import type { EmailSettingsView } from '../../services/workflows/email-settings.js';
import { Field, Time } from '../components/layout.js';
import { h, type Html } from '../jsx.js';
import { FormProblem, PostForm, problemsOf, SelectField, valuesOf, type FormState } from './settings-fields.js';

/** Service field → form input. */
export const SMTP_INPUTS: Record<string, string> = {
  host: 'smtpHost',
  port: 'smtpPort',
  security: 'smtpSecurity',
  user: 'smtpUser',
  password: 'smtpPassword',
  from: 'smtpFrom',
  replyTo: 'smtpReplyTo',
};

const SECURITY_LABELS: [string, string][] = [
  ['', 'By port (465: TLS, else STARTTLS)'],
  ['tls', 'TLS (port 465)'],
  ['starttls', 'STARTTLS (port 587)'],
  ['none', 'None (a relay on this network only)'],
];

/** The form's inputs as the settings body: empty inputs left out (the password kept), the port as a number. */
export function smtpBody(field: (name: string) => string | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, input] of Object.entries(SMTP_INPUTS)) {
    const v = field(input)?.trim();
    if (v) body[key] = key === 'port' && /^\d{1,5}$/.test(v) ? Number(v) : v;
  }
  return body;
}

export function EmailSection(props: { base: string; settings: EmailSettingsView | null; admin: boolean; state: FormState }): Html {
  const { state, base, settings: s } = props;
  const problems = problemsOf(state, 'email');
  const values = valuesOf(state, 'email');
  return (
    <section aria-labelledby="email">
      <h2 id="email">Email (SMTP)</h2>
      <p>The server the email steps of workflows send through, and their default sender.</p>
      <dl class="props">
        <dt>Server</dt>
        <dd>{s ? <code>{`${s.host}:${s.port}`}</code> : 'none: email steps fail until one is saved'}</dd>
        <dt>Security</dt>
        <dd>{s?.security ?? '—'}</dd>
        <dt>Login</dt>
        <dd>{s?.user ? `${s.user} (password ${s.passwordSet ? 'stored' : 'missing'})` : 'none'}</dd>
        <dt>From</dt>
        <dd>{s?.from ?? '—'}</dd>
        <dt>Last change</dt>
        <dd>
          <Time at={s?.updatedAt} />
        </dd>
      </dl>
      {props.admin ? (
        <PostForm action={`${base}/email`} csrf={state.csrf} label="SMTP settings">
          <Field label="Host" name="smtpHost" value={values.smtpHost ?? s?.host} error={problems.smtpHost} placeholder="smtp.example.com" />
          <Field label="Port" name="smtpPort" value={values.smtpPort ?? (s ? String(s.port) : undefined)} error={problems.smtpPort} />
          <SelectField
            label="Security"
            name="smtpSecurity"
            value={values.smtpSecurity ?? s?.security ?? ''}
            options={SECURITY_LABELS}
            error={problems.smtpSecurity}
          />
          <Field
            label="User"
            name="smtpUser"
            value={values.smtpUser ?? s?.user ?? undefined}
            error={problems.smtpUser}
            autocomplete="off"
          />
          <Field
            label="Password"
            name="smtpPassword"
            type="password"
            autocomplete="off"
            error={problems.smtpPassword}
            hint={s?.passwordSet ? 'Write-only: leave empty to keep the stored password.' : 'Stored sealed; never shown again.'}
          />
          <Field
            label="From"
            name="smtpFrom"
            value={values.smtpFrom ?? s?.from}
            error={problems.smtpFrom}
            placeholder="Shop <shop@example.com>"
          />
          <Field
            label="Reply-To (optional)"
            name="smtpReplyTo"
            value={values.smtpReplyTo ?? s?.replyTo ?? undefined}
            error={problems.smtpReplyTo}
          />
          <FormProblem problems={problems} />
          <button type="submit">Save SMTP settings</button>
        </PostForm>
      ) : null}
      <FormProblem problems={problemsOf(state, 'email-remove')} />
      {props.admin && s ? (
        <PostForm action={`${base}/email/remove`} csrf={state.csrf} class="inline">
          <button type="submit" class="danger small">
            Remove SMTP settings
          </button>
        </PostForm>
      ) : null}
    </section>
  );
}
