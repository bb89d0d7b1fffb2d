// Endpoints and deliveries in the console, in Chromium, against a real receiver on loopback: creating an endpoint
// (a bad URL first), revealing and rotating its secret (audited), a test event the receiver gets and verifies
// with the revealed secret, a failed delivery retried from its page, bulk retry with its counts, messages and
// REST Hooks pages, what a viewer and a member may not do, markup in a description shown as text, and axe.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { listAudit } from '../../src/services/audit/list-audit.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import {
  axeViolations,
  collectCspViolations,
  describeViolations,
  launchBrowser,
  makeUser,
  noBrowser,
  signedIn,
} from '../helpers/browser.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
// Set to a directory to keep screenshots of every page in light and dark.
const SHOTS = process.env.SLUICE_SCREENSHOTS;

async function checkPage(page: Page, name: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${name}: ${describeViolations(violations)}`);
  if (SHOTS) {
    mkdirSync(SHOTS, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await axeViolations(page), [], `${name} (${scheme})`);
      await page.screenshot({ path: `${SHOTS}/${name}-${scheme}.png`, fullPage: true });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }
}

describe('console endpoints and deliveries', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let receiver: Receiver;
  let healthy = true;
  let ws: string;

  before(async () => {
    // Two attempts, then a delivery has failed for good: quick to reach in a test.
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, retrySchedule: [0, 0.1], outboundTimeoutMs: 4000 } });
    receiver = await startReceiver(() => (healthy ? { status: 200, body: 'thanks' } : { status: 500, body: 'receiver <b>broken</b>' }));
    browser = await launchBrowser();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Outbound' })).body.id;
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await app?.close();
  });

  const apiEndpoint = async (body: Record<string, unknown>) => {
    const res = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; secret: string };
  };
  const deliveriesOf = async (endpointId: string) =>
    (await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${endpointId}/deliveries`)).body.data as {
      id: string;
      status: string;
      attempts: number;
    }[];

  test('an admin creates an endpoint, reveals and rotates its secret, and sends a test event the receiver gets', async () => {
    const admin = await makeUser(app, 'admin', [ws]);
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/endpoints`);
    const csp = collectCspViolations(page);
    await page.goto(`${app.url}/workspaces/${ws}/endpoints`);
    assert.match(await page.locator('main').innerText(), /No endpoint yet/);

    // A bad URL first: the problem next to the field, everything typed kept.
    await page.getByLabel('URL').fill('http://1.1.1.1/hook');
    await page.getByLabel('Description').fill('<script>alert(1)</script>');
    await page.locator('input[name=types][value="subscription.canceled"]').check();
    await page.getByLabel('Other types or patterns').fill('stripe.invoice.paid');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    assert.match(await page.locator('#f-url-error').innerText(), /https/);
    assert.equal(await page.getByLabel('URL').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('URL').inputValue(), 'http://1.1.1.1/hook');
    assert.equal(await page.getByLabel('Description').inputValue(), '<script>alert(1)</script>');
    assert.equal(await page.locator('input[name=types][value="subscription.canceled"]').isChecked(), true);
    assert.equal(await page.getByLabel('Other types or patterns').inputValue(), 'stripe.invoice.paid');

    // An unknown type: its problem at the picker.
    await page.getByLabel('URL').fill(`${receiver.url}/hook`);
    await page.getByLabel('Other types or patterns').fill('subscriptoin.canceled');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    assert.match(await page.locator('#new-eventTypes-error').innerText(), /did you mean subscription\.canceled/);

    await page.getByLabel('Other types or patterns').fill('stripe.invoice.paid');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.waitForURL(/\/endpoints\/ep_[0-9a-z]{24}\?done=created/);
    const endpointId = /\/endpoints\/(ep_[0-9a-z]{24})/.exec(page.url())![1]!;
    // The description is text: shown as typed, never run.
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Endpoint: <script>alert(1)</script>');
    assert.equal(await page.locator('main script').count(), 0);
    assert.match(await page.locator('dl.props').innerText(), /subscription\.canceled\s+stripe\.invoice\.paid/);
    assert.equal((await page.content()).includes('whsec_'), false, 'the secret is hidden until revealed');

    await page.getByRole('button', { name: 'Reveal secret' }).click();
    const first = await page.locator('#revealed-secret code').innerText();
    assert.match(first, /^whsec_/);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = await page.locator('#revealed-secret code').innerText();
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, first, 'rotation made a new secret');
    assert.match(await page.locator('#revealed-secret').innerText(), /previous secret also signs until/);
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    assert.equal(await page.locator('#revealed-secret code').innerText(), rotated, 'the revealed value is the new one');

    const audit = (await listAudit(app.ctx, ws, {})).data.filter((a) => a.target === endpointId);
    assert.deepEqual(audit.map((a) => a.action).sort(), [
      'endpoint.created',
      'endpoint.secret_revealed',
      'endpoint.secret_revealed',
      'endpoint.secret_rotated',
    ]);
    for (const a of audit) {
      assert.equal(a.actorLabel, admin.email);
      assert.equal(JSON.stringify(a.detail).includes('whsec_'), false, 'no secret in the audit detail');
    }

    // A test event: the receiver gets it, signed with the secret the page revealed.
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.waitForURL(/done=test/);
    const got = await waitFor(async () => receiver.requests.find((r) => r.path === '/hook'), 'the test event at the receiver');
    const body = new Webhook(rotated).verify(got.body, got.headers as Record<string, string>) as { type: string; test?: boolean };
    assert.equal(body.type, 'sluice.test');
    assert.equal(body.test, true);
    await waitFor(async () => (await deliveriesOf(endpointId))[0]?.status === 'succeeded', 'the delivery recorded');

    await page.goto(`${app.url}/workspaces/${ws}/endpoints`);
    assert.equal(await page.getByRole('link', { name: `${receiver.url}/hook` }).count(), 1);
    assert.match(await page.locator('main table').innerText(), /<script>alert\(1\)<\/script>/);
    assert.match((await page.locator('svg.spark').getAttribute('aria-label')) ?? '', /1 succeeded/);
    await checkPage(page, 'endpoints');

    await page.goto(`${app.url}/workspaces/${ws}/endpoints/${endpointId}`);
    assert.equal(await page.locator('main tbody tr').count(), 1);
    await checkPage(page, 'endpoint-detail');
    await page.locator('main tbody a').first().click();
    await page.waitForURL(/\/deliveries\/dlv_/);
    assert.match(await page.locator('ol.timeline').innerText(), /Attempt 1: succeeded[\s\S]*200/);
    assert.match(await page.locator('pre.payload').innerText(), /"type": "sluice.test"/);
    await checkPage(page, 'delivery');
    assert.deepEqual(csp, [], 'no Content-Security-Policy violation');
    await context.close();
  });

  test('a failed delivery is retried from its page once the receiver is fixed, and succeeds', async () => {
    const ep = await apiEndpoint({ url: `${receiver.url}/flaky`, description: 'flaky receiver' });
    healthy = false;
    try {
      const sent = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/test`, {});
      assert.equal(sent.status, 202);
      const failed = await waitFor(
        async () => (await deliveriesOf(ep.id)).find((d) => d.status === 'failed'),
        'the delivery to fail for good',
      );
      const member = await makeUser(app, 'member', [ws]);
      const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/deliveries/${failed.id}`);
      const timeline = await page.locator('ol.timeline').innerText();
      assert.match(timeline, /Attempt 1: failed, will retry[\s\S]*500/);
      assert.match(timeline, /Attempt 2: failed, gave up/);
      assert.match(timeline, /receiver <b>broken<\/b>/, 'the response excerpt, as text');
      assert.equal(await page.getByRole('button', { name: 'Reveal secret' }).count(), 0);
      healthy = true;
      await page.getByRole('button', { name: 'Retry now' }).click();
      await page.waitForURL(/done=retried/);
      await waitFor(async () => (await deliveriesOf(ep.id))[0]?.status === 'succeeded', 'the retried delivery to succeed');
      await page.reload();
      assert.match(await page.locator('dl.props').first().innerText(), /succeeded/);
      assert.match(await page.locator('ol.timeline').innerText(), /Attempt 3: succeeded/);

      // A member sees no secret controls, and the server refuses them too.
      await page.goto(`${app.url}/workspaces/${ws}/endpoints/${ep.id}`);
      assert.equal(await page.getByRole('button', { name: /Reveal|Rotate/ }).count(), 0);
      const csrf = await page.locator('input[name=_csrf]').first().inputValue();
      for (const path of ['secret/reveal', 'secret/rotate', 'state']) {
        const res = await context.request.post(`${app.url}/workspaces/${ws}/endpoints/${ep.id}/${path}`, { form: { _csrf: csrf } });
        assert.equal(res.status(), 403, path);
        assert.equal((await res.text()).includes('whsec_'), false);
      }
      await context.close();
    } finally {
      healthy = true;
    }
  });

  test('bulk retry queues every delivery the filter matches and says how many', async () => {
    const ep = await apiEndpoint({ url: `${receiver.url}/bulk`, description: 'bulk' });
    healthy = false;
    try {
      for (let i = 0; i < 3; i++) assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/test`, {})).status, 202);
      await waitFor(async () => {
        const list = await deliveriesOf(ep.id);
        return list.length === 3 && list.every((d) => d.status === 'failed');
      }, 'three failed deliveries');
      const member = await makeUser(app, 'member', [ws]);
      const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/endpoints/${ep.id}?status=failed`);
      assert.match(await page.locator('#bulk-count').innerText(), /^3 deliveries match this filter/);
      assert.equal(await page.locator('main tbody tr').count(), 3);
      // A filter that matches nothing offers nothing to retry.
      await page.getByLabel('Event type', { exact: true }).fill('subscription.canceled');
      await page.getByRole('button', { name: 'Filter' }).click();
      assert.equal(await page.locator('#bulk-count').count(), 0);
      assert.match(await page.locator('main').innerText(), /No delivery matches this filter/);
      await page.getByLabel('Event type', { exact: true }).fill('sluice.test');
      await page.getByRole('button', { name: 'Filter' }).click();
      healthy = true;
      await page.getByRole('button', { name: 'Retry 3 matching deliveries' }).click();
      await page.waitForURL(/done=bulk/);
      assert.match(await page.getByRole('status').innerText(), /Queued 3 deliveries for another attempt\.$/);
      await waitFor(async () => (await deliveriesOf(ep.id)).every((d) => d.status === 'succeeded'), 'all three delivered');
      await page.goto(`${app.url}/workspaces/${ws}/endpoints/${ep.id}?status=failed`);
      assert.equal(await page.locator('#bulk-count').count(), 0, 'nothing failed is left');
      await context.close();
    } finally {
      healthy = true;
    }
  });

  test('messages and REST Hooks pages list what was sent and subscribed; an admin removes a subscription', async () => {
    await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { course: '<i>ts</i>' } });
    const hook = await app.api('POST', `/api/v1/workspaces/${ws}/hooks`, {
      targetUrl: `${receiver.url}/zap`,
      event: 'subscription.canceled',
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const admin = await makeUser(app, 'admin', [ws]);
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/messages`);
    const rows = page.locator('main tbody tr');
    assert.ok((await rows.count()) >= 2);
    assert.match(await rows.first().innerText(), /course\.enrolled\s+Custom/);
    await page.getByLabel('Kind').selectOption('test');
    await page.getByRole('button', { name: 'Filter' }).click();
    const kinds = await page.locator('main tbody td:nth-child(3)').allInnerTexts();
    assert.ok(kinds.length > 0 && kinds.every((k) => k === 'Test'), kinds.join());
    await page.getByLabel('Kind').selectOption('');
    await page.getByLabel('Event type', { exact: true }).fill('subscriptoin.*');
    await page.getByRole('button', { name: 'Filter' }).click();
    assert.match(await page.locator('#f-type-error').innerText(), /did you mean/);
    assert.equal(await page.getByLabel('Event type', { exact: true }).inputValue(), 'subscriptoin.*');
    await page.goto(`${app.url}/workspaces/${ws}/messages`);
    await checkPage(page, 'messages');

    await page.goto(`${app.url}/workspaces/${ws}/hooks`);
    assert.equal(await page.getByRole('link', { name: `${receiver.url}/zap` }).count(), 1);
    await checkPage(page, 'hooks');
    await page.getByRole('button', { name: `Delete subscription ${hook.body.id}` }).click();
    await page.waitForURL(/done=deleted/);
    assert.equal(await page.getByRole('link', { name: `${receiver.url}/zap` }).count(), 0);
    await context.close();
  });

  test('a viewer sees no secret, retry or change control and gets 403 on every change posted directly', async () => {
    const ep = await apiEndpoint({ url: `${receiver.url}/viewer`, description: 'for the viewer' });
    await app.api('POST', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/test`, {});
    const [delivery] = await waitFor(async () => {
      const list = await deliveriesOf(ep.id);
      return list[0]?.status === 'succeeded' ? list : undefined;
    }, 'a delivery');
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/endpoints/${ep.id}`);
    assert.match(await page.locator('main').innerText(), /Only admins can see or rotate the signing secret/);
    for (const name of [/Reveal/, /Rotate/, /Retry/, /Send test event/, /Recover/, /Disable/, /Save changes/]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, String(name));
    }
    assert.equal((await page.content()).includes('whsec_'), false);
    await page.goto(`${app.url}/workspaces/${ws}/deliveries/${delivery!.id}`);
    assert.equal(await page.getByRole('button', { name: /Retry/ }).count(), 0);
    await page.goto(`${app.url}/workspaces/${ws}/endpoints`);
    assert.equal(await page.getByRole('button', { name: 'Create endpoint' }).count(), 0);

    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const base = `/workspaces/${ws}/endpoints/${ep.id}`;
    for (const [path, form] of [
      [`/workspaces/${ws}/endpoints`, { url: `${receiver.url}/x` }],
      [base, { url: `${receiver.url}/x` }],
      [`${base}/state`, { state: 'disabled' }],
      [`${base}/secret/reveal`, {}],
      [`${base}/secret/rotate`, {}],
      [`${base}/test`, {}],
      [`${base}/recover`, { since: '2020-01-01T00:00' }],
      [`${base}/deliveries/retry`, { status: 'succeeded' }],
      [`/workspaces/${ws}/deliveries/${delivery!.id}/retry`, {}],
      [`/workspaces/${ws}/hooks/${ep.id}/delete`, {}],
    ] as const) {
      const res = await context.request.post(`${app.url}${path}`, { form: { _csrf: csrf, ...form } });
      assert.equal(res.status(), 403, path);
      assert.equal((await res.text()).includes('whsec_'), false, path);
    }
    // Nothing changed: its creation is all the audit log has of it.
    const after = await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}`);
    assert.equal(after.body.state, 'enabled');
    assert.deepEqual(
      (await listAudit(app.ctx, ws, {})).data.filter((a) => a.target === ep.id).map((a) => a.action),
      ['endpoint.created'],
    );
    await context.close();
  });

  test('the API records reveals and rotations in the audit log too', async () => {
    const ep = await apiEndpoint({ url: `${receiver.url}/api` });
    const revealed = await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/secret`);
    assert.equal(revealed.status, 200);
    assert.equal(revealed.body.secret, ep.secret);
    const rotated = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/rotate-secret`);
    assert.equal(rotated.status, 200);
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/secret`)).body.secret, rotated.body.secret);
    const audit = (await listAudit(app.ctx, ws, {})).data.filter((a) => a.target === ep.id);
    assert.deepEqual(audit.map((a) => `${a.actor} ${a.action}`).reverse(), [
      'admin endpoint.created',
      'admin endpoint.secret_revealed',
      'admin endpoint.secret_rotated',
      'admin endpoint.secret_revealed',
    ]);
    // A viewer key may not reveal.
    const key = await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'read only', role: 'viewer' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const refused = await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.id}/secret`, undefined, key.body.token ?? key.body.key);
    assert.equal(refused.status, 403);
  });
});
