// The incident inbox in Chromium: incidents raised through the incidents service appear in the inbox (open and
// acknowledged by default) with their subject linked to the customer or the endpoint; the open count is a badge
// on the "Incidents" navigation item on every page; a member acknowledges, resolves and reopens (the badge
// follows); the incident page shows expected vs actual, the rule and the evidence linked to the event, the
// customer and the check run; a viewer sees no button and every verb posted directly answers 403; markup in a
// title is text; axe on both pages, light and dark.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { raiseIncident } from '../../src/services/incidents/raise-incident.js';
import type { IncidentFact } from '../../src/services/incidents/raise-incident.js';
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
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_console_incidents_0123456789';
const HOSTILE = '<img src=x onerror=alert(1)>';
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

/** The number on the "Incidents" navigation item (0 when there is no badge). */
async function badge(page: Page): Promise<number> {
  const b = page.locator('nav.tabs a[href$="/incidents"] .nav-count');
  if ((await b.count()) === 0) return 0;
  return Number(await b.getAttribute('data-open-incidents'));
}

describe('console incidents', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let ws: string;
  let customerId: string;
  let eventId: string;
  let endpointId: string;
  const ids: Record<string, string> = {};

  const raise = async (fact: Omit<IncidentFact, 'workspaceId'>) =>
    (await app.ctx.db.transaction((tx) => raiseIncident(app.ctx, tx, { workspaceId: ws, ...fact }))).incident.id;

  before(async () => {
    app = await startTestApp({ config: { outboundAllow: [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }] } });
    browser = await launchBrowser();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Incidents' })).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    const payload = stripeEvent('customer.created', { id: 'cus_inbox', email: 'ada@example.test', name: 'Ada Lovelace' });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    const customers = await waitFor(async () => {
      const list = (await app.api('GET', `/api/v1/workspaces/${ws}/customers`)).body.data as { id: string }[];
      return list.length > 0 ? list : undefined;
    }, 'the customer');
    customerId = customers[0]!.id;
    eventId = (await app.api('GET', `/api/v1/workspaces/${ws}/events`)).body.data[0].id;
    endpointId = (await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'http://127.0.0.1:9/hook', description: 'CRM sync' }))
      .body.id;

    ids.missing = await raise({
      kind: 'access_missing',
      severity: 'critical',
      provider: 'parity',
      subject: customerId,
      qualifier: 'gold',
      title: 'Paid for gold but has no access',
      details: { key: 'gold', expected: 'access to gold', actual: 'no access', rule: 'stripe status active grants access' },
      evidence: { eventIds: [eventId], customerIds: [customerId], runId: 'run_0000000000000000000000test' },
    });
    ids.endpoint = await raise({
      kind: 'endpoint_disabled',
      severity: 'critical',
      provider: 'outbound',
      subject: endpointId,
      endpointId,
      title: 'Endpoint disabled after 5 days of failures',
      details: { expected: 'deliveries succeed', actual: 'failing for 5 days' },
    });
    ids.lag = await raise({
      kind: 'webhook_lag',
      provider: 'stripe',
      subject: ws,
      title: `Webhooks arrive late ${HOSTILE}`,
      details: { expected: 'p95 lag under 300 s', actual: 'p95 lag 912 s', rule: 'lagThresholdSeconds' },
    });
    // Seen twice: folds into one incident with two occurrences.
    await raise({ kind: 'webhook_lag', provider: 'stripe', subject: ws, title: `Webhooks arrive late ${HOSTILE}` });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('a member works through the inbox: filters, the incident page, acknowledge, resolve, reopen, and the badge follows', async () => {
    const member = await makeUser(app, 'member', [ws]);
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/overview`);
    const csp = collectCspViolations(page);
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    assert.equal(await badge(page), 3, 'the badge on every page counts the open incidents');
    assert.equal(await page.getByRole('link', { name: 'Incidents 3 open' }).count(), 1, 'the count is said in words too');
    await page.getByRole('link', { name: /^Incidents/ }).click();
    await page.waitForURL(/\/incidents$/);
    const rows = page.locator('main tbody tr');
    assert.equal(await rows.count(), 3);
    const main = await page.locator('main').innerText();
    assert.match(main, /Paid for gold but has no access/);
    assert.match(main, /Webhooks arrive late <img src=x onerror=alert\(1\)>/, 'markup in a title is text');
    assert.equal(await page.locator('main img').count(), 0);
    assert.match(await page.locator(`#incident-${ids.lag}`).innerText(), /2×/, 'a recurrence folds into the incident');
    // Subjects: the customer page, the endpoint page, the workspace.
    assert.equal(
      await page.locator(`#incident-${ids.missing} a[href="/workspaces/${ws}/customers/${customerId}"]`).innerText(),
      'Ada Lovelace',
    );
    assert.equal(await page.locator(`#incident-${ids.endpoint} a[href="/workspaces/${ws}/endpoints/${endpointId}"]`).count(), 1);
    assert.match(await page.locator(`#incident-${ids.lag}`).innerText(), /the workspace/);
    await checkPage(page, 'incidents');

    // Filter by kind: a link that keeps the filter.
    await page.getByLabel('Kind').selectOption('access_missing');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/kind=access_missing/);
    assert.equal(await rows.count(), 1);

    // The incident page: details, evidence linked.
    await page.getByRole('link', { name: 'Paid for gold but has no access' }).click();
    await page.waitForURL(new RegExp(`/incidents/${ids.missing}$`));
    const detail = await page.locator('main').innerText();
    assert.match(detail, /Expected\s+access to gold/);
    assert.match(detail, /Actual\s+no access/);
    assert.match(detail, /Rule\s+stripe status active grants access/);
    assert.equal(await page.locator(`main a[href="/workspaces/${ws}/events/${eventId}"]`).count(), 1, 'the event is linked');
    assert.ok((await page.locator(`main a[href="/workspaces/${ws}/customers/${customerId}"]`).count()) >= 2, 'subject and evidence');
    await checkPage(page, 'incident');

    // Acknowledge: out of the open count, still in the inbox.
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.waitForURL(/done=acknowledge/);
    assert.match(await page.locator('main').innerText(), /Incident acknowledged/);
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /acknowledged/);
    assert.equal(await badge(page), 2);
    assert.equal(await page.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'no second acknowledge');

    // Resolve from the inbox row: it leaves the default view; the badge counts one less.
    await page.goto(`${app.url}/workspaces/${ws}/incidents`);
    await page.getByRole('button', { name: `Resolve incident: Endpoint disabled after 5 days of failures` }).click();
    await page.waitForURL(/done=resolve/);
    assert.equal(new URL(page.url()).pathname, `/workspaces/${ws}/incidents`, 'back to the list it was clicked in');
    assert.match(await page.locator('main').innerText(), /Incident resolved/);
    assert.equal(await badge(page), 1);
    assert.equal(await page.locator(`#incident-${ids.endpoint}`).count(), 0);
    assert.equal(await page.locator(`#incident-${ids.missing}`).count(), 1, 'acknowledged stays in the inbox');

    // Resolved ones are one filter away, and can be reopened.
    await page.getByLabel('Status').selectOption('resolved');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=resolved/);
    assert.equal(await rows.count(), 1);
    await page.getByRole('button', { name: /^Reopen incident/ }).click();
    await page.waitForURL(/done=reopen/);
    assert.match(page.url(), /status=resolved/, 'the filter is kept');
    assert.equal(await badge(page), 2);
    const api = await app.api('GET', `/api/v1/workspaces/${ws}/incidents/${ids.endpoint}`);
    if (api.status === 200) assert.equal(api.body.status, 'open');

    // Acting on a stale page: a clear notice, nothing changed.
    await page.goto(`${app.url}/workspaces/${ws}/incidents/${ids.lag}`);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const twice = await context.request.post(`${app.url}/workspaces/${ws}/incidents/${ids.missing}/acknowledge`, {
      form: { _csrf: csrf, back: `/workspaces/${ws}/incidents` },
    });
    assert.match(twice.url(), /problem=changed/);
    assert.match(await twice.text(), /Nothing changed/);
    // A back address elsewhere is not followed.
    const away = await context.request.post(`${app.url}/workspaces/${ws}/incidents/${ids.endpoint}/acknowledge`, {
      form: { _csrf: csrf, back: 'https://evil.example/' },
    });
    assert.equal(new URL(away.url()).pathname, `/workspaces/${ws}/incidents/${ids.endpoint}`);
    // Without the CSRF token: refused.
    const forged = await context.request.post(`${app.url}/workspaces/${ws}/incidents/${ids.lag}/resolve`, { form: {} });
    assert.equal(forged.status(), 403);
    assert.equal(dialogs, 0);
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('bad filters say what is wrong; an unknown incident is a 404', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/incidents?kind=nope&status=maybe`);
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/incidents?kind=nope`))?.status(), 400);
    assert.match(await page.locator('main').innerText(), /kind/);
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/incidents?cursor=x`))?.status(), 400);
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/incidents/inc_nothere`))?.status(), 404);
    await context.close();
  });

  test('a viewer reads the inbox and the incident but sees no button, and every verb posted directly answers 403', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/incidents?status=all`);
    assert.ok((await page.locator('main tbody tr').count()) >= 3);
    for (const name of [/Acknowledge/, /Resolve/, /Ignore/, /Reopen/])
      assert.equal(await page.getByRole('button', { name }).count(), 0, String(name));
    await page.goto(`${app.url}/workspaces/${ws}/incidents/${ids.lag}`);
    assert.equal(await page.getByRole('button', { name: /Acknowledge|Resolve|Ignore|Reopen/ }).count(), 0);
    const before = await badge(page);
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    for (const verb of ['acknowledge', 'resolve', 'ignore', 'reopen']) {
      const res = await context.request.post(`${app.url}/workspaces/${ws}/incidents/${ids.lag}/${verb}`, { form: { _csrf: csrf } });
      assert.equal(res.status(), 403, verb);
    }
    await page.reload();
    assert.equal(await badge(page), before, 'nothing changed');
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /open/);
    await context.close();
  });
});
