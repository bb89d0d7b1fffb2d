/** @jsx h */
/** @jsxFrag Fragment */
// Sign-in, first-admin setup and set-password: the pages a person sees before having a session.
import { h, Fragment, type Html } from '../jsx.js';
import { Field, Flash, Layout } from '../components/layout.js';

export type Problems = Record<string, string>;

export function LoginPage(props: { nonce: string; csrf: string; next: string; email?: string; error?: string; notice?: string }): Html {
  return (
    <Layout title="Sign in" nonce={props.nonce}>
      <section class="login">
        <h1>Sign in to Sluice</h1>
        {props.notice ? <Flash kind="info">{props.notice}</Flash> : null}
        {props.error ? <Flash kind="error">{props.error}</Flash> : null}
        <form method="post" action="/login">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="next" value={props.next} />
          <Field label="Email" name="email" type="email" value={props.email} required autocomplete="username" />
          <Field label="Password" name="password" type="password" required autocomplete="current-password" />
          <button type="submit">Sign in</button>
        </form>
        <p class="muted">
          No account yet? An admin creates one (<code>sluice user create --email you@example.com --role member</code>) and sends you a link
          to set your password.
        </p>
      </section>
    </Layout>
  );
}

export function PasswordLinkPage(props: {
  nonce: string;
  csrf: string;
  token: string;
  purpose: 'setup' | 'set_password';
  email?: string | null;
  values?: { email?: string };
  problems?: Problems;
  error?: string;
}): Html {
  const setup = props.purpose === 'setup';
  const p = props.problems ?? {};
  return (
    <Layout title={setup ? 'Create the first admin' : 'Set your password'} nonce={props.nonce}>
      <section class="login">
        <h1>{setup ? 'Create the first admin' : 'Set your password'}</h1>
        <p class="muted">
          {setup
            ? "This link works once. The account you create here is admin of every workspace; add the others from a workspace's Settings page (Members), the command line or the API."
            : `For ${props.email ?? 'your account'}. This link works once.`}
        </p>
        {props.error ? <Flash kind="error">{props.error}</Flash> : null}
        <form method="post" action={setup ? '/setup' : '/set-password'}>
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="token" value={props.token} />
          {setup ? (
            <Field label="Email" name="email" type="email" value={props.values?.email} error={p.email} required autocomplete="username" />
          ) : null}
          <Field
            label="Password"
            name="password"
            type="password"
            error={p.password}
            required
            autocomplete="new-password"
            hint="At least 12 characters."
          />
          <Field label="Repeat the password" name="confirm" type="password" error={p.confirm} required autocomplete="new-password" />
          <button type="submit">{setup ? 'Create admin and sign in' : 'Set password and sign in'}</button>
        </form>
      </section>
    </Layout>
  );
}

export function MessagePage(props: {
  nonce: string;
  title: string;
  message: string;
  status?: number;
  csrf?: string;
  user?: { email: string; role: string };
}): Html {
  return (
    <Layout title={props.title} nonce={props.nonce} csrf={props.csrf} user={props.user}>
      <h1>{props.title}</h1>
      <Flash kind={props.status && props.status >= 400 ? 'error' : 'info'}>{props.message}</Flash>
      <p>
        <a href="/">Back to the console</a>
      </p>
    </Layout>
  );
}
