// Checks and parity in Chromium: a workspace whose policy says the "gold" key comes from the team's app, and a
// customer paying for gold (a signed Stripe subscription) with no app grant. The customer page's parity section
// shows gold expected but not actual, the sources and the deciding rule; "Check now" raises access_missing and
// the badge and the inbox show it; "Run checks now" on the checks page records a run whose page lists the finding
// linked to the customer; filters by trigger and status; a viewer has neither button and both POSTs answer 403;
// axe on the pages, light and dark.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { saveParityPolicy } from '../../src/db/queries/parity-settings.js';
import { DEFAULT_POLICY } from '../../src/parity/policy.js';
import { getCheckRun, listCheckRuns } from '../../src/services/parity/list-check-runs.js';
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

const SECRET = 'whsec_console_checks_0123456789';
const SHOTS = process.env.SLUICE_SCREENSHOTS;
const T0 = Math.floor(Date.now() / 1000);

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

async function badge(page: Page): Promise<number> {
  const b = page.locator('nav.tabs a[href$="/incidents"] .nav-count');
  return (await b.count()) === 0 ? 0 : Number(await b.getAttribute('data-open-incidents'));
}

describe('console checks and parity', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let ws: string;
  let customerId: string;

  before(async () => {
    app = await startTestApp();
    browser = await launchBrowser();
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Checks' })).body.id;
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    await saveParityPolicy(app.db, ws, {
      ...DEFAULT_POLICY,
      accessMap: [{ match: { product: 'prod_gold' }, key: 'gold', sources: ['app'] }],
    });
    for (const [type, object] of [
      ['customer.created', { id: 'cus_gold', email: 'grace@example.test', name: 'Grace Hopper' }],
      [
        'customer.subscription.created',
        {
          id: 'sub_gold',
          object: 'subscription',
          customer: 'cus_gold',
          status: 'active',
          cancel_at_period_end: false,
          current_period_start: T0,
          current_period_end: T0 + 30 * 86400,
          items: {
            object: 'list',
            data: [{ id: 'si_1', price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }],
          },
        },
      ],
    ] as const) {
      const payload = stripeEvent(type, object);
      assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    }
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    customerId = (await app.api('GET', `/api/v1/workspaces/${ws}/customers`)).body.data[0].id;
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('the customer page shows parity per key; "Check now" opens the incident and the badge counts it', async () => {
    const member = await makeUser(app, 'member', [ws]);
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/customers/${customerId}`);
    const csp = collectCspViolations(page);
    const row = page.locator('#parity-gold');
    assert.equal(await row.count(), 1, 'a row for the gold key');
    const text = await row.innerText();
    assert.match(text, /gold/);
    assert.match(text, /yes[\s\S]*sub_gold|sub_gold[\s\S]*yes/, 'expected: paid by sub_gold');
    assert.match(text, /\bno\b/, 'actual: no access');
    assert.match(text, /\bapp\b/, 'the source');
    assert.match(text, /access missing/, 'the verdict');
    assert.ok((await row.locator('td').last().innerText()).trim().length > 5, 'the deciding rule is shown');
    const before = await badge(page);
    await checkPage(page, 'customer-parity');

    await page.getByRole('button', { name: 'Check now' }).click();
    await page.waitForURL(/checked=1/);
    assert.match(await page.locator('main').innerText(), /Checked now: 1 finding/);
    assert.equal(await badge(page), before + 1, 'the new incident is counted in the navigation');
    const incidentLink = page.locator('#parity-gold a[href*="/incidents/inc_"]');
    assert.equal(await incidentLink.count(), 1, 'the open incident is linked from the key');
    await incidentLink.click();
    await page.waitForURL(/\/incidents\/inc_/);
    assert.match(await page.locator('main').innerText(), /gold/);
    assert.equal(await page.locator(`main a[href="/workspaces/${ws}/customers/${customerId}"]`).first().innerText(), 'Grace Hopper');
    assert.ok((await page.locator('main a[href*="/checks/chk_"]').count()) >= 1, 'evidence links to the check run');
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('"Run checks now" records a run; its page lists the finding; filters by trigger and status', async () => {
    const admin = await makeUser(app, 'admin', [ws]);
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/checks`);
    const csp = collectCspViolations(page);
    await page.getByRole('button', { name: 'Run checks now' }).click();
    await page.waitForURL(/started=chk_/);
    const runId = new URL(page.url()).searchParams.get('started')!;
    await waitFor(async () => (await getCheckRun(app.ctx, ws, runId)).status === 'succeeded', 'the run to finish');
    await page.goto(`${app.url}/workspaces/${ws}/checks`);
    const runRow = page.locator(`#run-${runId}`);
    assert.equal(await runRow.count(), 1);
    assert.match(await runRow.innerText(), /check\s+manual\s+succeeded\s+1\s+1/);
    await checkPage(page, 'checks');

    await page.getByLabel('Trigger').selectOption('scan');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/trigger=scan/);
    assert.equal(await page.locator(`#run-${runId}`).count(), 0);
    assert.match(await page.locator('main').innerText(), /No run matches these filters/);
    await page.goto(`${app.url}/workspaces/${ws}/checks?trigger=manual&status=succeeded`);
    assert.equal(await page.locator(`#run-${runId}`).count(), 1);
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/checks?status=bogus`))?.status(), 400);

    await page.goto(`${app.url}/workspaces/${ws}/checks/${runId}`);
    const main = await page.locator('main').innerText();
    assert.match(main, /Findings \(1\)/);
    assert.match(main, /access missing/);
    assert.match(main, /Started by\s+by hand/);
    const findingRow = page.locator('table.findings tbody tr');
    assert.equal(await findingRow.count(), 1);
    assert.match(await findingRow.innerText(), /gold/);
    await findingRow.locator(`a[href="/workspaces/${ws}/customers/${customerId}"]`).click();
    await page.waitForURL(new RegExp(`/customers/${customerId}`));
    await page.goBack();
    await checkPage(page, 'check-run');
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/checks/chk_nothere`))?.status(), 404);
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('a viewer sees no "Run checks now" or "Check now", and both POSTs answer 403', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/checks`);
    assert.equal(await page.getByRole('button', { name: 'Run checks now' }).count(), 0);
    const runsBefore = (await listCheckRuns(app.ctx, ws, {})).data.length;
    await page.goto(`${app.url}/workspaces/${ws}/customers/${customerId}`);
    assert.equal(await page.getByRole('button', { name: 'Check now' }).count(), 0);
    assert.equal(await page.locator('#parity-gold').count(), 1, 'a viewer reads the parity section');
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    for (const path of [`/workspaces/${ws}/checks`, `/workspaces/${ws}/customers/${customerId}/check`]) {
      const res = await context.request.post(`${app.url}${path}`, { form: { _csrf: csrf } });
      assert.equal(res.status(), 403, path);
    }
    assert.equal((await listCheckRuns(app.ctx, ws, {})).data.length, runsBefore, 'no run was started');
    await context.close();
  });
});
