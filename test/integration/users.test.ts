// Console users through the API and the CLI: creation with a one-time link, roles and workspace lists applied to
// the session on the API, deletion ending sessions, expiry, and retention clearing what ended.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runRetention } from '../../src/services/retention/run-retention.js';
import { createOneTimeLink } from '../../src/services/users/one-time-link.js';
import { signIn } from '../../src/services/users/sessions.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { readPostmasterPid, stopPostmaster } from '../../src/db/embedded/server.js';
import { runSluice } from '../helpers/sluice-process.js';

/** Redeems a set-password link like a browser: GET the form (pre-session CSRF cookie), POST the password. */
async function setPassword(link: string, password: string): Promise<{ status: number; session?: string; csrf?: string }> {
  const form = await fetch(link);
  if (form.status !== 200) return { status: form.status };
  const cookie = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const html = await form.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const token = new URL(link).searchParams.get('token') ?? '';
  const res = await fetch(new URL('/set-password', link), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ _csrf: csrf, token, password, confirm: password }),
  });
  const session = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('sluice_session='));
  if (!session) return { status: res.status };
  // The session's CSRF token, as a page shows it.
  const page = await fetch(new URL('/workspaces', link), { headers: { cookie: session } });
  return { status: res.status, session, csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] };
}

describe('console users', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(async () => app?.close());

  test('created with a one-time link; each problem of a bad request named; emails unique whatever their case', async () => {
    const bad = await app.api('POST', '/api/v1/users', { email: 'nope', role: 'owner' });
    assert.equal(bad.status, 400);
    const made = await app.api('POST', '/api/v1/users', { email: 'Ana.Users@example.test', role: 'member' });
    assert.equal(made.status, 201);
    assert.equal(made.body.user.hasPassword, false);
    assert.match(made.body.setPasswordUrl, /\/set-password\?token=sl_/);
    const dup = await app.api('POST', '/api/v1/users', { email: 'ana.users@EXAMPLE.test', role: 'viewer' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'USER_EXISTS');

    const first = await setPassword(made.body.setPasswordUrl, 'a password long enough');
    assert.equal(first.status, 303);
    assert.ok(first.session, 'signed in after setting the password');
    const again = await setPassword(made.body.setPasswordUrl, 'another long password');
    assert.equal(again.status, 410, 'the link works once');
    const list = await app.api('GET', '/api/v1/users');
    assert.equal(list.body.data.find((u: { id: string }) => u.id === made.body.user.id).hasPassword, true);
  });

  test("a session on the API acts with the user's role, in the user's workspaces only; deleting the user ends it", async () => {
    const a = (await app.api('POST', '/api/v1/workspaces', { name: 'A' })).body.id;
    const b = (await app.api('POST', '/api/v1/workspaces', { name: 'B' })).body.id;
    // A workspace that does not exist is named, and no user is made.
    const ghost = 'ws_000000000000000000000000';
    const refused = await app.api('POST', '/api/v1/users', {
      email: `ghost-${Date.now()}@example.test`,
      role: 'viewer',
      workspaces: [a, ghost],
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, new RegExp(`no such workspace: ${ghost}`));
    const made = await app.api('POST', '/api/v1/users', { email: `viewer-${Date.now()}@example.test`, role: 'viewer', workspaces: [a] });
    const { session, csrf } = await setPassword(made.body.setPasswordUrl, 'viewer password long');
    assert.ok(session && csrf);
    const call = (method: string, p: string, body?: unknown) =>
      fetch(`${app.url}/api/v1${p}`, {
        method,
        headers: { cookie: session, 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const listed = (await (await call('GET', '/workspaces')).json()) as { data: { id: string }[] };
    assert.deepEqual(
      listed.data.map((w) => w.id),
      [a],
    );
    assert.equal((await call('GET', `/workspaces/${b}`)).status, 404, 'another workspace does not exist for them');
    const save = await call('PUT', `/workspaces/${a}/connections/stripe`, { webhookSecrets: ['whsec_viewer_cannot'] });
    assert.equal(save.status, 403, 'a viewer cannot save secrets');
    assert.equal((await app.api('GET', `/api/v1/workspaces/${a}/connections/stripe`)).status, 404, 'nothing was saved');
    assert.equal((await call('POST', '/users', { email: 'x@example.test', role: 'admin' })).status, 403);

    assert.equal((await app.api('DELETE', `/api/v1/users/${made.body.user.id}`)).status, 204);
    assert.equal((await call('GET', '/workspaces')).status, 401, 'the session ended with the user');
  });

  test("setting a password through a one-time link ends every other session of that user, and no one else's", async () => {
    const made = await app.api('POST', '/api/v1/users', { email: `reset-${Date.now()}@example.test`, role: 'admin' });
    const other = await app.api('POST', '/api/v1/users', { email: `bystander-${Date.now()}@example.test`, role: 'admin' });
    const first = await setPassword(made.body.setPasswordUrl, 'the first password long');
    const bystander = await setPassword(other.body.setPasswordUrl, 'a bystander password');
    assert.ok(first.session && bystander.session);
    // A second browser, signed in with the old password.
    const { cookie } = await signIn(app.ctx, made.body.user.email, 'the first password long');
    const elsewhere = `sluice_session=${encodeURIComponent(cookie)}`;
    const works = async (session: string) => (await fetch(`${app.url}/api/v1/workspaces`, { headers: { cookie: session } })).status;
    assert.equal(await works(first.session), 200);
    assert.equal(await works(elsewhere), 200);

    // A new set-password link for the same user (the password is set anew, e.g. because it leaked).
    const link = await createOneTimeLink(app.ctx, 'set_password', made.body.user.id);
    const reset = await setPassword(link, 'the second password long');
    assert.equal(reset.status, 303);
    assert.ok(reset.session);
    assert.equal(await works(first.session), 401, 'the session the first link opened ended');
    assert.equal(await works(elsewhere), 401, 'the session signed in with the old password ended');
    assert.equal(await works(reset.session), 200, 'the session the link opened is the one left');
    assert.equal(await works(bystander.session), 200, "another user's session is untouched");
    const left = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM user_sessions WHERE user_id = $1', [made.body.user.id]);
    assert.equal(left.rows[0]!.n, 1);
  });

  test('a session past its expiry is refused and retention removes it', async () => {
    const made = await app.api('POST', '/api/v1/users', { email: `exp-${Date.now()}@example.test`, role: 'admin' });
    const { session } = await setPassword(made.body.setPasswordUrl, 'admin password long');
    assert.ok(session);
    assert.equal((await fetch(`${app.url}/api/v1/workspaces`, { headers: { cookie: session } })).status, 200);
    await app.db.query("UPDATE user_sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1", [made.body.user.id]);
    assert.equal((await fetch(`${app.url}/api/v1/workspaces`, { headers: { cookie: session } })).status, 401);
    const page = await fetch(`${app.url}/workspaces`, { headers: { cookie: session, accept: 'text/html' }, redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location') ?? '', /^\/login\?next=%2Fworkspaces&ended=1$/);
    await runRetention(app.ctx);
    const left = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM user_sessions WHERE user_id = $1', [made.body.user.id]);
    assert.equal(left.rows[0]!.n, 0);
  });

  test('a tampered session cookie is refused without a session', async () => {
    const made = await app.api('POST', '/api/v1/users', { email: `tamper-${Date.now()}@example.test`, role: 'admin' });
    const { session } = await setPassword(made.body.setPasswordUrl, 'admin password long');
    const [name, value] = session!.split('=') as [string, string];
    const [token, mac] = decodeURIComponent(value).split('.') as [string, string];
    const forged = `${name}=${encodeURIComponent(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}.${mac}`)}`;
    assert.equal((await fetch(`${app.url}/api/v1/workspaces`, { headers: { cookie: forged } })).status, 401);
  });
});

test('sluice user create prints a one-time link; list and delete', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-users-cli-'));
  const env = { SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', SLUICE_ADMIN_TOKEN: 'users_cli_admin_token_0123456789' };
  try {
    const bad = await runSluice(['user', 'create', '--email', 'cli@example.test'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--role is required/);
    const made = await runSluice(['user', 'create', '--email', 'cli@example.test', '--role', 'viewer', '--json'], env);
    assert.equal(made.code, 0, made.stderr);
    const out = JSON.parse(made.stdout) as { user: { id: string; role: string }; setPasswordUrl: string };
    assert.equal(out.user.role, 'viewer');
    assert.match(out.setPasswordUrl, /\/set-password\?token=sl_/);
    const list = await runSluice(['user', 'list'], env);
    assert.match(list.stdout, /cli@example\.test {2}viewer {2}\(every workspace\) {2}password not set yet/);
    assert.equal((await runSluice(['user', 'delete', out.user.id], env)).code, 0);
    assert.match((await runSluice(['user', 'list'], env)).stdout, /no users yet/);
  } finally {
    const running = readPostmasterPid(path.join(dataDir, 'postgres'));
    if (running) await stopPostmaster(running.pid, 20_000);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
