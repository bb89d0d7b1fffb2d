// The console's one-time values over real HTTP: a new API key, a new member's set-password link, an endpoint's
// signing secret revealed or rotated. Each form's POST does its work and answers 303 See Other to a GET page; that
// GET shows the value once, the next GET of the same address says it was shown once (and how to get a new one) and
// shows nothing, and fetching it again creates, rotates or reveals nothing more. Neither the address nor a cookie
// carries the value, only the session that made it can see it, and every answer is `Cache-Control: no-store`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../src/services/audit/list-audit.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeUser } from '../helpers/browser.js';

interface Session {
  cookie: string;
  csrf: string;
}

function cookiePairs(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

/** Signs in through the login form like a browser, and reads the session's CSRF token off a page. */
async function signIn(app: TestApp, user: { email: string; password: string }, ws: string): Promise<Session> {
  const form = await fetch(`${app.url}/login`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${app.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookiePairs(form), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, email: user.email, password: user.password, next: '/' }),
  });
  assert.equal(res.status, 303);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('sluice_session='))!;
  const page = await fetch(`${app.url}/workspaces/${ws}/settings`, { headers: { cookie } });
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]! };
}

const API_KEY = /sk_ws_[A-Za-z0-9_-]{20,}/g;
const SET_PASSWORD_LINK = /https?:\/\/[^"<\s]+\/set-password\?token=[A-Za-z0-9_-]+/g;
const SIGNING_SECRET = /whsec_[A-Za-z0-9+/=_-]{20,}/g;

describe('console: one-time values are shown on a GET after a 303, once', () => {
  let app: TestApp;
  let ws: string;
  let admin: { email: string; password: string; id: string };
  let session: Session;

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'One-time values' })).body.id;
    admin = await makeUser(app, 'admin');
    session = await signIn(app, admin, ws);
  });
  after(async () => app?.close());

  const post = (path: string, body: Record<string, string>, as: Session = session) =>
    fetch(`${app.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: as.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: as.csrf, ...body }),
    });
  const get = async (location: string, as: Session = session) => {
    const res = await fetch(new URL(location, app.url), { redirect: 'manual', headers: { cookie: as.cookie } });
    return { res, html: await res.text() };
  };
  const apiKeyCount = async () => (await app.api('GET', `/api/v1/workspaces/${ws}/api-keys?limit=100`)).body.data.length as number;
  const userCount = async () => (await app.api('GET', '/api/v1/users')).body.data.length as number;
  const auditOf = async (target: string, action: string) =>
    (await listAudit(app.ctx, ws, { limit: 100 })).data.filter((a) => a.target === target && a.action === action).length;

  /** The POST's answer: a 303 See Other to a page of this console, neither it nor a cookie carrying `secret`. */
  async function seeOther(res: Response, path: string, secret: RegExp): Promise<string> {
    const body = await res.text();
    assert.equal(res.status, 303, `the POST answers 303 See Other, not the page itself (got ${res.status})`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const location = res.headers.get('location');
    assert.ok(location, 'a Location');
    const to = new URL(location, app.url);
    assert.equal(to.origin, app.url);
    assert.equal(to.pathname, path);
    assert.doesNotMatch(location, secret, 'the value is never in the URL');
    assert.doesNotMatch(decodeURIComponent(location), secret, 'the value is never in the URL');
    assert.doesNotMatch(body, secret, 'nor in the redirect');
    for (const c of res.headers.getSetCookie()) assert.doesNotMatch(decodeURIComponent(c), secret, 'nor in a cookie');
    return location;
  }

  test('a new API key: 303, shown once on the GET, gone on the next one, and no second key', async () => {
    const before = await apiKeyCount();
    const res = await post(`/workspaces/${ws}/settings/api-keys`, { keyName: 'billing sync', keyRole: 'member' });
    const location = await seeOther(res, `/workspaces/${ws}/settings`, API_KEY);
    assert.equal(await apiKeyCount(), before + 1, 'the POST made the key');

    const first = await get(location);
    assert.equal(first.res.status, 200);
    assert.equal(first.res.headers.get('cache-control'), 'no-store');
    const shown = [...new Set(first.html.match(API_KEY) ?? [])];
    assert.equal(shown.length, 1, 'the new key is on the page');
    assert.match(first.html, /shown only once/);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`, undefined, shown[0])).status, 200, 'and it is the key made');

    // The same address again (a reload, the back button, a restored tab): a GET that shows no key and says why.
    const second = await get(location);
    assert.equal(second.res.status, 200);
    assert.equal(second.res.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(second.html, API_KEY, 'a second GET does not show the key');
    assert.match(second.html, /was shown once and cannot be shown again/);
    assert.match(second.html, /revoke it and create a new one/);
    const third = await get(location);
    assert.doesNotMatch(third.html, API_KEY);
    assert.equal(await apiKeyCount(), before + 1, 'reloading the page made no second key');
    assert.doesNotMatch((await get(`/workspaces/${ws}/settings`)).html, API_KEY);
  });

  test('a new member: 303, the set-password link shown once, and no second user', async () => {
    const before = await userCount();
    const res = await post(`/workspaces/${ws}/settings/members`, { email: 'invited.once@example.test', memberRole: 'member' });
    const location = await seeOther(res, `/workspaces/${ws}/settings`, SET_PASSWORD_LINK);
    assert.equal(await userCount(), before + 1);

    const first = await get(location);
    assert.equal(first.res.status, 200);
    assert.equal(first.res.headers.get('cache-control'), 'no-store');
    const links = [...new Set(first.html.match(SET_PASSWORD_LINK) ?? [])];
    assert.equal(links.length, 1, 'the link is on the page');
    assert.match(first.html, /invited\.once@example\.test was added/);
    assert.equal((await fetch(links[0]!)).status, 200, 'and it is a working set-password link');

    const second = await get(location);
    assert.equal(second.res.status, 200);
    assert.equal(second.res.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(second.html, /set-password\?token=/, 'a second GET does not show the link');
    assert.match(second.html, /was shown once and cannot be shown again/);
    assert.equal(await userCount(), before + 1, 'reloading the page added nobody');
  });

  test("an endpoint's secret revealed: 303, shown once, and a reload reveals nothing more", async () => {
    const ep = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/reveal' })).body;
    const res = await post(`/workspaces/${ws}/endpoints/${ep.id}/secret/reveal`, {});
    const location = await seeOther(res, `/workspaces/${ws}/endpoints/${ep.id}`, SIGNING_SECRET);
    assert.equal(await auditOf(ep.id, 'endpoint.secret_revealed'), 1);

    const first = await get(location);
    assert.equal(first.res.status, 200);
    assert.equal(first.res.headers.get('cache-control'), 'no-store');
    assert.deepEqual([...new Set(first.html.match(SIGNING_SECRET) ?? [])], [ep.secret], 'the secret, on the GET');

    const second = await get(location);
    assert.equal(second.res.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(second.html, SIGNING_SECRET, 'a second GET does not show it');
    assert.match(second.html, /was shown once and cannot be shown again/);
    assert.match(second.html, /Reveal secret/, 'with the button to reveal it again');
    assert.equal(await auditOf(ep.id, 'endpoint.secret_revealed'), 1, 'reloading revealed nothing more');
  });

  test("an endpoint's secret rotated: 303, the new secret shown once, and a reload rotates nothing", async () => {
    const ep = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/rotate' })).body;
    const res = await post(`/workspaces/${ws}/endpoints/${ep.id}/secret/rotate`, {});
    const location = await seeOther(res, `/workspaces/${ws}/endpoints/${ep.id}`, SIGNING_SECRET);
    const current = (await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/secret`)).body.secret as string;
    assert.notEqual(current, ep.secret, 'the POST rotated it');

    const first = await get(location);
    assert.equal(first.res.status, 200);
    assert.equal(first.res.headers.get('cache-control'), 'no-store');
    assert.deepEqual([...new Set(first.html.match(SIGNING_SECRET) ?? [])], [current], 'the new secret, on the GET');
    assert.match(first.html, /Secret rotated/);
    assert.match(first.html, /previous secret also signs until/);

    const second = await get(location);
    assert.equal(second.res.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(second.html, SIGNING_SECRET, 'a second GET does not show it');
    assert.match(second.html, /was shown once and cannot be shown again/);
    await get(location);
    assert.equal(
      (await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/secret`)).body.secret,
      current,
      'reloading rotated nothing more',
    );
    assert.equal(await auditOf(ep.id, 'endpoint.secret_rotated'), 1);
  });

  test('only the session that made the value sees it; signing out drops it', async () => {
    const other = await signIn(app, await makeUser(app, 'admin'), ws);
    const res = await post(`/workspaces/${ws}/settings/api-keys`, { keyName: 'mine only', keyRole: 'viewer' });
    const location = await seeOther(res, `/workspaces/${ws}/settings`, API_KEY);
    const stranger = await get(location, other);
    assert.equal(stranger.res.status, 200);
    assert.doesNotMatch(stranger.html, API_KEY, "another admin's session gets nothing from the address");
    assert.match((await get(location)).html, API_KEY, 'the session that made it still gets it, once');

    // A value not yet shown when its session ends is gone with the session.
    const me = await signIn(app, admin, ws);
    const ep = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com/signout' })).body;
    const revealed = await seeOther(
      await post(`/workspaces/${ws}/endpoints/${ep.id}/secret/reveal`, {}, me),
      `/workspaces/${ws}/endpoints/${ep.id}`,
      SIGNING_SECRET,
    );
    const out = await fetch(`${app.url}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: me.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: me.csrf }),
    });
    assert.equal(out.status, 303);
    const again = await signIn(app, admin, ws);
    assert.doesNotMatch((await get(revealed, again)).html, SIGNING_SECRET);
  });

  test('a form with bad input still re-renders with its problem, status 400, and changes nothing', async () => {
    const keys = await apiKeyCount();
    const res = await post(`/workspaces/${ws}/settings/api-keys`, { keyName: 'bad role', keyRole: 'owner' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const html = await res.text();
    assert.match(html, /id="f-keyRole-error"/);
    assert.match(html, /value="bad role"/, 'what was typed is kept');
    assert.doesNotMatch(html, API_KEY);
    assert.equal(await apiKeyCount(), keys);

    const users = await userCount();
    const member = await post(`/workspaces/${ws}/settings/members`, { email: 'someone@localhost', memberRole: 'member' });
    assert.equal(member.status, 400);
    assert.match(await member.text(), /id="f-email-error"/);
    assert.equal(await userCount(), users);
  });
});

describe('console: a one-time value not fetched in time is gone', () => {
  let app: TestApp;
  let clock = Date.now();
  before(async () => {
    app = await startTestApp({ worker: false, now: () => clock });
  });
  after(async () => app?.close());

  test('a GET more than five minutes after the POST shows no value', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Late' })).body.id;
    const session = await signIn(app, await makeUser(app, 'admin'), ws);
    const res = await fetch(`${app.url}/workspaces/${ws}/settings/api-keys`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: session.csrf, keyName: 'late', keyRole: 'viewer' }),
    });
    assert.equal(res.status, 303);
    clock += 5 * 60_000 + 1000;
    const page = await fetch(new URL(res.headers.get('location')!, app.url), { headers: { cookie: session.cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.doesNotMatch(html, API_KEY);
    assert.match(html, /was shown once and cannot be shown again/);
  });
});
