// The settings page in Chromium: an admin pastes a Stripe signing secret (kept masked) and copies the webhook URL,
// and an event signed with that secret is accepted; "Test & connect" and "Generate base webhook" against the
// local Stripe stand-in; rotation; Piano; API keys shown once; members; demo mode; the audit log with the
// actor's email. A viewer sees no secret and no form, and every admin action is refused (403) in the browser
// and through the API with their session, as for member sessions and viewer/member keys. axe on both views,
// light and dark.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import {
  axeViolations,
  collectCspViolations,
  describeViolations,
  launchBrowser,
  makeUser,
  noBrowser,
  signedIn,
} from '../helpers/browser.js';
import { startStripeApi, type StripeApiStandIn } from '../helpers/stripe-api.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_settings_page_secret_a1b2c3d4';
const SECRET_2 = 'whsec_settings_page_rotated_e5f6g7h8';

async function sessionOf(context: BrowserContext, page: Page): Promise<{ cookie: string; csrf: string }> {
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const csrf = await page.locator('input[name=_csrf]').first().inputValue();
  return { cookie, csrf };
}

/** Whether the element is inside the viewport as the page is now (after any scroll to a fragment). */
async function inView(page: Page, selector: string): Promise<boolean> {
  return page
    .locator(selector)
    .first()
    .evaluate((el) => {
      const r = el.getBoundingClientRect();
      return r.bottom > 0 && r.top < el.ownerDocument.documentElement.clientHeight;
    });
}

describe('console settings', { skip: noBrowser }, () => {
  let app: TestApp;
  let stripe: StripeApiStandIn;
  let browser: Browser;
  let ws: string;
  let admin: { email: string; password: string; id: string };
  const settings = () => `${app.url}/workspaces/${ws}/settings`;
  const stripeView = async () => (await app.api('GET', `/api/v1/workspaces/${ws}/connections/stripe`)).body;

  before(async () => {
    stripe = await startStripeApi();
    app = await startTestApp({ worker: false, config: { stripeApiUrl: stripe.url } });
    browser = await launchBrowser();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Settings test' })).body.id;
    admin = await makeUser(app, 'admin');
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await stripe?.close();
  });

  test('an admin stores a signing secret (shown masked), copies the webhook URL, and signed events are accepted', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/settings`);
    const csp = collectCspViolations(page);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    await page.goto(settings());
    assert.match(await page.getByRole('heading', { name: /Stripe not connected/ }).innerText(), /not connected/);

    // A wrong value: the problem next to the field, status 400, and the secret is not typed back.
    await page.getByLabel('Signing secret', { exact: true }).fill('whsec_x');
    const [bad] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Add signing secret' }).click(),
    ]);
    assert.equal(bad.status(), 400);
    // In the words of the form, not the API's field path (webhookSecrets[0]).
    assert.match(await page.locator('#f-webhookSecret-error').innerText(), /^the signing secret is too short/);
    assert.equal(await page.getByLabel('Signing secret', { exact: true }).inputValue(), '');

    await page.getByLabel('Signing secret', { exact: true }).fill(SECRET);
    await page.getByRole('button', { name: 'Add signing secret' }).click();
    await page.waitForURL(/\?saved=stripe-secret/);
    assert.match(await page.getByRole('status').first().innerText(), /Signing secret stored/);
    assert.equal(await page.locator('code.secret-masked').first().innerText(), `whsec_…${SECRET.slice(-4)}`);
    assert.ok(!(await page.content()).includes(SECRET), 'the secret itself is never in the page');
    assert.match(await page.getByRole('heading', { name: /Stripe connected/ }).innerText(), /connected/);
    assert.equal((await stripeView()).webhookSecretCount, 1);

    // The webhook URL is copyable.
    const webhookUrl = `${app.url}/webhooks/stripe/${ws}`;
    await page.getByRole('button', { name: 'Copy Stripe webhook URL' }).click();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), webhookUrl);

    // Stripe's event, signed with that secret by the official SDK, is accepted at that URL.
    const payload = stripeEvent('customer.created', { email: 'paid@example.test' });
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signStripe(payload, SECRET) },
      body: payload,
    });
    assert.equal(res.status, 200, await res.text());
    const forged = await postStripe(app.url, ws, payload, signStripe(payload, 'whsec_not_the_stored_one_0000'));
    assert.equal(forged.status, 400);

    // The audit log names the change and who made it, without the secret.
    const audit = page.locator('table.audit tbody tr').first();
    assert.match(await audit.innerText(), /stripe\.signing_secret\.added/);
    assert.match(await audit.innerText(), new RegExp(admin.email.replace(/[.]/g, '\\.')));
    const logged = (await app.api('GET', `/api/v1/workspaces/${ws}/audit-log`)).body.data;
    assert.ok(!JSON.stringify(logged).includes(SECRET));
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('Test & connect checks the API key with Stripe; Generate base webhook; rotation with overlap', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/settings`);
    await page.getByLabel('Stripe API key').fill('sk_test_wrongwrongwrong1234');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Test & connect' }).click(),
    ]);
    assert.equal(refused.status(), 400);
    assert.match(await page.locator('#f-apiKey-error').innerText(), /refused/);
    assert.equal((await stripeView()).hasApiKey, false, 'a refused key is not stored');

    await page.getByLabel('Stripe API key').fill(stripe.apiKey);
    await page.getByRole('button', { name: 'Test & connect' }).click();
    await page.waitForURL(/\?saved=stripe-key/);
    assert.equal((await stripeView()).hasApiKey, true);
    assert.ok(!(await page.content()).includes(stripe.apiKey));

    // An extra endpoint with a bad event type: the problem next to the field, the typed list kept.
    await page.getByLabel('Event types (optional)').fill('invoice.paid\nnot a type');
    await page.getByRole('button', { name: 'Generate base webhook' }).click();
    assert.match(await page.locator('#f-enabledEvents-error').innerText(), /not a Stripe event type/);
    assert.equal(await page.getByLabel('Event types (optional)').inputValue(), 'invoice.paid\nnot a type');

    await page.getByLabel('Event types (optional)').fill('');
    await page.getByRole('button', { name: 'Generate base webhook' }).click();
    await page.waitForURL(/\?saved=stripe-endpoint/);
    assert.equal(stripe.endpoints.length, 1);
    const endpoint = stripe.endpoints[0]!;
    assert.equal(endpoint.url, `${app.url}/webhooks/stripe/${ws}`);
    const row = page.locator('section[aria-labelledby=stripe] tr', { hasText: endpoint.id });
    assert.match(await row.innerText(), new RegExp(`${endpoint.enabled_events.length} event types`));
    assert.equal((await stripeView()).webhookSecretCount, 2);

    // Rotation: a second pasted secret joins; events signed by either verify; then the old one goes.
    await page.getByLabel('Signing secret', { exact: true }).fill(SECRET_2);
    await page.getByRole('button', { name: 'Add signing secret' }).click();
    await page.waitForURL(/\?saved=stripe-secret/);
    assert.equal(await page.locator('code.secret-masked').count(), 4, 'three signing secrets and the API key, masked');
    for (const s of [SECRET, SECRET_2, stripe.issuedSecrets.get(endpoint.id)!]) {
      const p = stripeEvent('customer.updated');
      assert.equal((await postStripe(app.url, ws, p, signStripe(p, s))).status, 200);
    }
    await page.getByRole('button', { name: `Remove signing secret ending ${SECRET.slice(-4)}` }).click();
    await page.waitForURL(/\?saved=stripe-secret-removed/);
    assert.equal((await stripeView()).webhookSecretCount, 2);
    const old = stripeEvent('customer.updated');
    assert.equal((await postStripe(app.url, ws, old, signStripe(old, SECRET))).status, 400, 'the removed secret no longer verifies');
    const fresh = stripeEvent('customer.updated');
    assert.equal((await postStripe(app.url, ws, fresh, signStripe(fresh, SECRET_2))).status, 200);

    // Mode.
    await page.getByLabel('Process events of').selectOption('live');
    await page.getByRole('button', { name: 'Save mode' }).click();
    await page.waitForURL(/\?saved=stripe-mode/);
    assert.equal((await stripeView()).mode, 'live');
    await page.getByLabel('Process events of').selectOption('test');
    await page.getByRole('button', { name: 'Save mode' }).click();
    await page.waitForURL(/\?saved=stripe-mode/);
    const actions = (await app.api('GET', `/api/v1/workspaces/${ws}/audit-log`)).body.data.map((e: { action: string }) => e.action);
    for (const a of ['stripe.connection.saved', 'stripe.endpoint.created', 'stripe.signing_secret.removed'])
      assert.ok(actions.includes(a), a);
    await context.close();
  });

  test('Piano credentials, forward destinations, demo mode and members', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/settings`);
    await page.getByLabel('Application id (aid)').fill('no spaces allowed');
    await page.getByRole('button', { name: 'Save Piano connection' }).click();
    assert.match(await page.locator('#f-privateKey-error').innerText(), /private key/);
    assert.equal(await page.getByLabel('Application id (aid)').inputValue(), 'no spaces allowed');
    await page.getByLabel('Private key').fill('PianoPrivateKey0123456789abcdef');
    await page.getByLabel('Region').selectOption('eu');
    await page.getByRole('button', { name: 'Save Piano connection' }).click();
    assert.match(await page.locator('#f-aid-error').innerText(), /application id/);
    assert.equal(await page.getByLabel('Private key').inputValue(), '', 'a key is never typed back');
    await page.getByLabel('Application id (aid)').fill('AppSettings1');
    await page.getByLabel('Private key').fill('PianoPrivateKey0123456789abcdef');
    await page.getByLabel('Region').selectOption('eu');
    await page.getByRole('button', { name: 'Save Piano connection' }).click();
    await page.waitForURL(/\?saved=piano/);
    const piano = (await app.api('GET', `/api/v1/workspaces/${ws}/connections/piano`)).body;
    assert.deepEqual([piano.aid, piano.region], ['AppSettings1', 'eu']);
    assert.ok(!(await page.content()).includes('PianoPrivateKey0123456789abcdef'));

    await page.getByLabel('Destination URL').fill('http://127.0.0.1:9/piano');
    await page.getByRole('button', { name: 'Add destination' }).click();
    assert.ok((await page.locator('#f-forwardUrl-error').innerText()).length > 0);
    assert.equal(await page.getByLabel('Destination URL').inputValue(), 'http://127.0.0.1:9/piano');
    await page.getByLabel('Destination URL').fill('https://forward.example.invalid/piano');
    await page.getByRole('button', { name: 'Add destination' }).click();
    await page.waitForURL(/\?saved=forward/);
    assert.match(
      await page.locator('section[aria-labelledby=piano] tr', { hasText: 'forward.example.invalid' }).innerText(),
      /no delivery yet/,
    );
    await page.getByRole('button', { name: 'Remove forward destination https://forward.example.invalid/piano' }).click();
    await page.waitForURL(/\?saved=forward-removed/);
    assert.equal(await page.locator('section[aria-labelledby=piano] tr', { hasText: 'forward.example.invalid' }).count(), 0);

    await page.getByRole('button', { name: 'Turn demo mode on' }).click();
    await page.waitForURL(/\?saved=demo/);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`)).body.demo, true);
    await page.getByRole('button', { name: 'Turn demo mode off' }).click();
    await page.waitForURL(/\?saved=demo/);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`)).body.demo, false);

    // A member: bad email → kept with its problem; then added with a one-time link shown once.
    await page.getByLabel('Member email').fill('someone@localhost');
    await page.getByLabel('Member role').selectOption('member');
    await page.getByRole('button', { name: 'Add member' }).click();
    assert.match(await page.locator('#f-email-error').innerText(), /email address/);
    assert.ok(await inView(page, '#f-email-error'), 'the problem is in view, next to its field');
    assert.equal(await page.getByLabel('Member email').inputValue(), 'someone@localhost');
    assert.equal(await page.getByLabel('Member role').inputValue(), 'member');
    await page.getByLabel('Member email').fill('new.member@example.test');
    await page.getByRole('button', { name: 'Add member' }).click();
    const link = await page.locator('section[aria-labelledby=members] .copy code').innerText();
    assert.match(link, /\/set-password\?token=/);
    assert.ok(await inView(page, 'section[aria-labelledby=members] .copy code'), 'the one-time link is in view');
    assert.match(await page.locator('section[aria-labelledby=members] tbody').innerText(), /new\.member@example\.test/);
    await page.goto(settings());
    assert.ok(!(await page.content()).includes(link), 'the link is shown once');
    const row = page.locator('section[aria-labelledby=members] tr', { hasText: 'new.member@example.test' });
    assert.match(await row.innerText(), /member/);
    await page.getByRole('button', { name: 'Remove new.member@example.test' }).click();
    await page.waitForURL(/\?saved=member-removed/);
    assert.equal(await page.locator('section[aria-labelledby=members] tr', { hasText: 'new.member@example.test' }).count(), 0);
    // Removed from this workspace, not deleted: the account stays.
    const users = (await app.api('GET', '/api/v1/users')).body.data as { email: string; workspaces: string[] | null }[];
    assert.deepEqual(users.find((u) => u.email === 'new.member@example.test')?.workspaces, []);
    // A user of every workspace keeps every other one.
    const other = (await app.api('POST', '/api/v1/workspaces', { name: 'Other one' })).body.id as string;
    const everywhere = await makeUser(app, 'member', null);
    await page.reload();
    await page.getByRole('button', { name: `Remove ${everywhere.email}` }).click();
    await page.waitForURL(/\?saved=member-removed/);
    const after = (await app.api('GET', '/api/v1/users')).body.data as { email: string; workspaces: string[] | null }[];
    const kept = after.find((u) => u.email === everywhere.email)?.workspaces ?? [];
    assert.ok(kept.includes(other) && !kept.includes(ws), JSON.stringify(kept));
    await context.close();
  });

  test('an API key is shown once, works as a bearer token, and stops working when revoked; changes by key are audited', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/settings`);
    await page.getByLabel('Key name').fill('billing sync');
    await page.getByLabel('Key role').selectOption('admin');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const key = await page.locator('section[aria-labelledby=api-keys] .copy code').innerText();
    assert.match(key, /^sk_ws_/);
    // The answer opens at the API keys section, with the key in sight: not at the top of a long page, where the
    // Stripe settings are and nothing says a key was made.
    assert.ok(await inView(page, 'section[aria-labelledby=api-keys] .copy code'), 'the new key is in view');
    // The key is on the page the POST redirected to (303), never in its URL; opening that URL again shows no key.
    assert.match(page.url(), /\/settings\?created=api-key&once=[A-Za-z0-9_-]+#api-keys$/);
    assert.ok(!page.url().includes(key));
    const reloaded = await context.newPage();
    await reloaded.goto(page.url());
    assert.ok(!(await reloaded.content()).includes(key), 'the key is shown once');
    assert.match(await reloaded.locator('section[aria-labelledby=api-keys]').innerText(), /was shown once/);
    await reloaded.close();
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`, undefined, key)).status, 200);
    await page.goto(settings());
    assert.ok(!(await page.content()).includes(key), 'shown once');
    assert.match(await page.locator('section[aria-labelledby=api-keys] tr', { hasText: 'billing sync' }).innerText(), /admin/);

    // A change through the API with that key is in the audit log as the key, without the secret.
    const put = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { mode: 'test' }, key);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const entry = (await app.api('GET', `/api/v1/workspaces/${ws}/audit-log`)).body.data[0];
    assert.equal(entry.action, 'stripe.connection.saved');
    assert.match(entry.actor, /^key_/);

    await page.getByRole('button', { name: 'Revoke API key billing sync' }).click();
    await page.waitForURL(/\?saved=api-key-revoked/);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`, undefined, key)).status, 401);
    await page.goto(settings());
    const log = await page.locator('table.audit').innerText();
    assert.match(log, /api_key\.revoked/);
    assert.match(log, /api_key\.created/);
    await context.close();
  });

  test('a viewer sees no secret and no form; viewers and members get 403 on every admin action, in the browser and the API', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const member = await makeUser(app, 'member', [ws]);
    const before = await stripeView();
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/settings`);
    await page.goto(settings());
    const html = await page.content();
    assert.ok(!/whsec_|sk_test_|sk_ws_/.test(html), 'no secret, masked or not, nor a key prefix');
    assert.equal(await page.locator('code.secret-masked').count(), 0);
    assert.equal(await page.locator('main form[method=post]').count(), 0, 'no form that changes anything');
    assert.match(await page.locator('#stripe ~ * .card, .stripe-card').first().innerText(), /Signing secrets\s*2/);
    assert.match(await page.getByRole('heading', { name: 'Stripe connected' }).innerText(), /connected/);
    const viewerSession = await sessionOf(context, page);

    const memberSigned = await signedIn(browser, app, member, `/workspaces/${ws}/settings`);
    assert.equal(await memberSigned.page.locator('main form[method=post]').count(), 0);
    const memberSession = await sessionOf(memberSigned.context, memberSigned.page);

    const keyId = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'target', role: 'viewer' })).body.id;
    const forms: [string, Record<string, string>][] = [
      ['/stripe/secrets', { webhookSecret: 'whsec_viewer_tries_this_123' }],
      ['/stripe/secrets/remove', { fingerprint: '0123456789abcdef' }],
      ['/stripe/api-key', { apiKey: stripe.apiKey }],
      ['/stripe/mode', { mode: 'live' }],
      ['/stripe/endpoints', { enabledEvents: '' }],
      ['/piano', { aid: 'Viewer1234', privateKey: 'ViewerKey0123456789' }],
      ['/piano/forwards', { forwardUrl: 'https://x.example.invalid/' }],
      ['/api-keys', { keyName: 'mine', keyRole: 'admin' }],
      [`/api-keys/${keyId}/revoke`, {}],
      ['/demo', { demo: 'on' }],
      ['/members', { email: 'sneaky@example.test', memberRole: 'admin' }],
      [`/members/${admin.id}/remove`, {}],
    ];
    for (const [who, session] of [
      ['viewer', viewerSession],
      ['member', memberSession],
    ] as const) {
      for (const [path, body] of forms) {
        const res = await fetch(`${settings()}${path}`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: session.cookie },
          body: new URLSearchParams({ _csrf: session.csrf, ...body }),
        });
        assert.equal(res.status, 403, `${who} POST ${path}`);
        assert.ok(!/whsec_|sk_test_/.test(await res.text()));
      }
      // The API with the same session (cookie + X-CSRF-Token): saving secrets and every admin route refused.
      const api: [string, string, unknown][] = [
        ['PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_viewer_tries_this_123'] }],
        ['POST', `/workspaces/${ws}/connections/stripe/endpoints`, {}],
        ['PUT', `/workspaces/${ws}/connections/piano`, { aid: 'Viewer1234', privateKey: 'ViewerKey0123456789' }],
        ['POST', `/workspaces/${ws}/connections/piano/forwards`, { url: 'https://x.example.invalid/' }],
        ['POST', `/workspaces/${ws}/api-keys`, { role: 'admin' }],
        ['GET', `/workspaces/${ws}/api-keys`, undefined],
        ['DELETE', `/workspaces/${ws}/api-keys/${keyId}`, undefined],
        ['PATCH', `/workspaces/${ws}`, { demo: true }],
        ['GET', `/workspaces/${ws}/audit-log`, undefined],
        ['POST', '/users', { email: 'sneaky@example.test', role: 'admin' }],
      ];
      for (const [method, path, body] of api) {
        const res = await fetch(`${app.url}/api/v1${path}`, {
          method,
          headers: {
            cookie: session.cookie,
            'x-csrf-token': session.csrf,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        assert.equal(res.status, 403, `${who} session ${method} ${path}`);
      }
    }
    // Workspace keys alike: only an admin key saves secrets.
    for (const role of ['viewer', 'member'] as const) {
      const key = (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role })).body.key;
      const res = await app.api(
        'PUT',
        `/api/v1/workspaces/${ws}/connections/stripe`,
        { webhookSecrets: ['whsec_key_tries_this_123'] },
        key,
      );
      assert.equal(res.status, 403, `${role} key`);
    }
    const after = await stripeView();
    assert.deepEqual([after.webhookSecretCount, after.hasApiKey, after.mode], [before.webhookSecretCount, before.hasApiKey, before.mode]);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}`)).body.demo, false);
    assert.equal(
      (await app.api('GET', `/api/v1/workspaces/${ws}/api-keys?limit=100`)).body.data.some((k: { id: string }) => k.id === keyId),
      true,
    );
    await memberSigned.context.close();
    await context.close();
  });

  test('axe: no WCAG A/AA violations on the settings page, admin and viewer, light and dark', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    for (const user of [admin, viewer]) {
      const { context, page } = await signedIn(browser, app, user, `/workspaces/${ws}/settings`);
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(settings());
        const violations = await axeViolations(page);
        assert.deepEqual(violations, [], `${user === admin ? 'admin' : 'viewer'} ${scheme}:\n${describeViolations(violations)}`);
        if (process.env.SETTINGS_SCREENSHOTS) {
          await page.screenshot({ path: `/tmp/settings-${user === admin ? 'admin' : 'viewer'}-${scheme}.png`, fullPage: true });
        }
      }
      // A form with problems is checked too (error texts have contrast, fields their descriptions).
      if (user === admin) {
        await page.getByLabel('Signing secret', { exact: true }).fill('nope');
        await page.getByRole('button', { name: 'Add signing secret' }).click();
        const violations = await axeViolations(page);
        assert.deepEqual(violations, [], describeViolations(violations));
      }
      await context.close();
    }
  });
});
