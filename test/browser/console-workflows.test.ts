// The workflow pages in Chromium: the empty list explains and points to the new-workflow page; an admin creates a
// workflow through the editor; a save with two mistakes lists both problems next to the editor, with their paths
// and lines, and saves nothing; the trigger picker writes a trigger into the editor; a dry run against a stored
// event shows the request it would send while a local receiver sees nothing; a run started by an event appears in
// the run log and its page shows the step timeline (secrets as markers, never values); a failed run is retried
// from its page; a member tries and retries but changes no definition; a viewer reads but changes nothing. axe on every page, and no CSP violation.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_console_workflows_0123456789';
const APP_TOKEN = 'app-token-value-never-shown-7f3a';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const SHOTS = process.env.SLUICE_SCREENSHOTS;
const T0 = Math.floor(Date.now() / 1000) - 3600;

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

describe('console workflows', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let receiver: Receiver;
  let ws: string;
  let admin: { email: string; password: string };
  let member: { email: string; password: string };
  let workflowId: string;
  let storedEventId: string;
  let flakyStatus = 400;

  const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);

  const checkout = (id: string, created: number) =>
    stripeEvent(
      'checkout.session.completed',
      {
        id,
        object: 'checkout.session',
        customer: 'cus_ada',
        payment_status: 'paid',
        status: 'complete',
        amount_total: 4900,
        currency: 'eur',
      },
      { created },
    );
  async function stripe(payload: string): Promise<void> {
    const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  /** The definition the tests save: a checkout that is paid grants a course and tells the team's app. */
  const courseBuyers = () => ({
    name: 'Course buyers',
    trigger: { source: 'stripe', object: 'checkout_session', actions: ['completed'], if: "event.payment_status == 'paid'" },
    steps: [
      { id: 'grant', kind: 'access.grant', resource: 'course-101' },
      {
        id: 'notify',
        kind: 'http',
        method: 'POST',
        url: `${receiver.url}/enrolled`,
        headers: { authorization: 'Bearer {{ secrets.APP_TOKEN }}' },
        body: { email: '{{ customer.email }}', session: '{{ event.id }}', amount: '{{ event.amount_total }}' },
      },
    ],
  });

  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, workflowRetryBaseMs: 100 } });
    browser = await launchBrowser();
    receiver = await startReceiver((req) =>
      req.path === '/flaky' ? { status: flakyStatus, body: `answer ${flakyStatus}` } : { status: 200 },
    );
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Workflows' })).body.id;
    assert.equal((await call('PUT', '/connections/stripe', { webhookSecrets: [SECRET] })).status, 200);
    assert.equal((await call('PUT', '/secrets/APP_TOKEN', { value: APP_TOKEN })).status, 200);
    await stripe(stripeEvent('customer.created', { id: 'cus_ada', email: 'ada@example.test', name: 'Ada Lovelace' }, { created: T0 }));
    admin = await makeUser(app, 'admin', [ws]);
    member = await makeUser(app, 'member', [ws]);
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await app?.close();
  });

  test('the empty list explains workflows; an admin creates one through the editor', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/overview`);
    const csp = collectCspViolations(page);
    await page.getByRole('link', { name: 'Workflows', exact: true }).click();
    await page.waitForURL(/\/workflows$/);
    const empty = await page.locator('main').innerText();
    assert.match(empty, /No workflow yet/);
    for (const t of ['dunning', 'course-purchase', 'revoke-on-end', 'welcome']) assert.match(empty, new RegExp(`${t}\\.json`));
    assert.match(empty, /docs\/workflows\.md/);
    await checkPage(page, 'workflows-empty');

    await page.getByRole('link', { name: 'Create a workflow' }).click();
    await page.waitForURL(/\/workflows\/new$/);
    const example = JSON.parse(await page.getByLabel('Definition (JSON)').inputValue());
    assert.equal(example.trigger.source, 'sluice', 'prefilled with a small example');
    assert.ok(Array.isArray(example.steps) && example.steps.length > 0);
    await checkPage(page, 'workflow-new');

    await page.getByLabel('Definition (JSON)').fill(JSON.stringify(courseBuyers(), null, 2));
    // Saved disabled: the first stored event must not start a run (the dry run below tries it instead).
    await page.getByRole('checkbox', { name: /^Enabled/ }).uncheck();
    await page.getByRole('button', { name: 'Create workflow' }).click();
    await page.waitForURL(/\/workflows\/wfl_[0-9a-z]{24}\?done=created$/);
    workflowId = new URL(page.url()).pathname.split('/').pop()!;
    assert.match(await page.locator('main').innerText(), /Workflow created \(version 1\)/);
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /Course buyers\s+disabled\s+version 1/);
    const saved = (await call('GET', `/workflows/${workflowId}`)).body;
    assert.equal(saved.enabled, false);
    assert.equal(saved.version, 1);
    assert.deepEqual(saved.trigger, courseBuyers().trigger);
    // The editor shows what was saved.
    assert.deepEqual(JSON.parse(await page.getByLabel('Definition (JSON)').inputValue()).trigger, courseBuyers().trigger);
    await checkPage(page, 'workflow');
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('a save with two mistakes lists both next to the editor, with path and line, and saves nothing', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/workflows/${workflowId}`);
    // Saving the text as shown changes nothing.
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.waitForURL(/done=unchanged/);
    assert.match(await page.locator('main').innerText(), /Nothing to save/);
    const bad = courseBuyers() as any;
    bad.trigger.object = 'checkout_sesion';
    bad.steps[1].url = 'ftp://example.com/enrolled';
    const text = JSON.stringify(bad, null, 2);
    await page.getByLabel('Definition (JSON)').fill(text);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save as a new version' }).click(),
    ]);
    assert.equal(response.status(), 422);
    await page.waitForLoadState('load');
    const problems = page.locator('#definition-problems li');
    assert.equal(await problems.count(), 2, await page.locator('#definition-problems').innerText());
    const listed = await page.locator('#definition-problems').innerText();
    assert.match(listed, /Not saved: 2 problems/);
    assert.match(listed, /trigger\.object[\s\S]*did you mean "checkout_session"/);
    assert.match(listed, /steps\[1\]\.url/);
    // Each problem names its line, and the editor's gutter marks it.
    const lines = text.split('\n');
    const objectLine = lines.findIndex((l) => l.includes('checkout_sesion')) + 1;
    const urlLine = lines.findIndex((l) => l.includes('ftp://')) + 1;
    assert.equal(await problems.nth(0).locator('a.line-link').innerText(), `line ${objectLine}`);
    assert.equal(await problems.nth(1).locator('a.line-link').innerText(), `line ${urlLine}`);
    assert.equal(await page.locator('.gutter span.bad').count(), 2);
    assert.equal(await page.getByLabel('Definition (JSON)').inputValue(), text, 'the text is kept as written');
    await problems.nth(1).locator('a.line-link').click();
    const selected = await page.getByLabel('Definition (JSON)').evaluate((el: any) => el.value.slice(el.selectionStart, el.selectionEnd));
    assert.match(selected, /ftp:\/\//, 'the line link selects that line');
    await checkPage(page, 'workflow-problems');
    const after422 = (await call('GET', `/workflows/${workflowId}`)).body;
    assert.equal(after422.version, 1, 'nothing saved');
    assert.equal(after422.trigger.object, 'checkout_session');

    // Not JSON at all: one problem that says where.
    await page.getByLabel('Definition (JSON)').fill('{\n  "name": "x",\n  "steps": []\n  "trigger": {}\n}');
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.waitForLoadState('load');
    assert.match(await page.locator('#definition-problems').innerText(), /not valid JSON at line 4, column 3/);
    assert.equal((await call('GET', `/workflows/${workflowId}`)).body.version, 1);
    await context.close();
  });

  test('the trigger picker writes the trigger into the editor, keeping its condition', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/workflows/${workflowId}`);
    const csp = collectCspViolations(page);
    const picker = page.getByRole('group', { name: 'Trigger picker' });
    assert.equal(await picker.getByLabel('Source').inputValue(), 'stripe', 'starts from the current trigger');
    assert.equal(await picker.getByLabel('Object').inputValue(), 'checkout_session');
    assert.equal(await picker.getByLabel('completed').isChecked(), true);
    // The catalogue is the validation's: every Stripe object of the trigger list is offered.
    const objects = await picker
      .getByLabel('Object')
      .locator('option')
      .evaluateAll((o) => o.map((x: any) => x.value as string));
    for (const o of ['checkout_session', 'payment_intent', 'subscription', 'invoice', 'charge', 'customer', 'product', 'price'])
      assert.ok(objects.includes(o), `${o} in ${objects.join(',')}`);

    await picker.getByLabel('Source').selectOption('sluice');
    await picker.getByLabel('Object').selectOption('subscription');
    await picker.getByLabel('canceled').check();
    await picker.getByLabel('ended').check();
    await picker.getByRole('button', { name: 'Write trigger into the definition' }).click();
    const written = JSON.parse(await page.getByLabel('Definition (JSON)').inputValue());
    assert.deepEqual(written.trigger, {
      source: 'sluice',
      object: 'subscription',
      actions: ['canceled', 'ended'],
      if: "event.payment_status == 'paid'",
    });
    assert.deepEqual(written.steps, (await call('GET', `/workflows/${workflowId}`)).body.steps, 'the steps are left as they were');
    assert.match(await picker.locator('[role=status]').innerText(), /Trigger written: sluice · subscription · canceled, ended/);
    await checkPage(page, 'workflow-picker');

    // No action ticked: every action (no actions field).
    await picker.getByLabel('Source').selectOption('stripe');
    await picker.getByLabel('Object').selectOption('invoice');
    await picker.getByRole('button', { name: 'Write trigger into the definition' }).click();
    const every = JSON.parse(await page.getByLabel('Definition (JSON)').inputValue());
    assert.deepEqual(every.trigger, { source: 'stripe', object: 'invoice', if: "event.payment_status == 'paid'" });

    // Text that is not JSON is not overwritten.
    await page.getByLabel('Definition (JSON)').fill('{ "name": ');
    await picker.getByRole('button', { name: 'Write trigger into the definition' }).click();
    assert.equal(await page.getByLabel('Definition (JSON)').inputValue(), '{ "name": ');
    assert.match(await picker.locator('[role=status]').innerText(), /not valid JSON/);

    // Nothing was saved by the picker.
    assert.equal((await call('GET', `/workflows/${workflowId}`)).body.version, 1);
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('a dry run against a stored event shows the request it would send, and the receiver sees nothing', async () => {
    // The workflow is disabled: this event is stored and published, but starts no run.
    await stripe(checkout('cs_dry', T0 + 10));
    storedEventId = await waitFor(async () => {
      const list = (await call('GET', '/events?type=checkout.session.completed')).body.data as { id: string; status: string }[];
      return list[0]?.status === 'processed' ? list[0].id : undefined;
    }, 'the checkout event processed');
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/workflows/${workflowId}`);
    const csp = collectCspViolations(page);
    const choice = page.getByLabel('Event', { exact: true });
    const options = await choice.locator('option').allInnerTexts();
    assert.equal(options.length, 1, `only events the trigger matches: ${options.join(' | ')}`);
    assert.match(options[0]!, new RegExp(`stripe\\.checkout\\.session\\.completed · ${storedEventId}`));
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.waitForURL(/\/dry-run#dry-run$/);
    const result = page.locator('.dry-result');
    const text = await result.innerText();
    assert.match(text, /Nothing was sent, written or published/);
    assert.match(text, /matches/);
    assert.match(await result.locator('#dry-grant').innerText(), /would run[\s\S]*would grant "course-101"/);
    const notify = await result.locator('#dry-notify').innerText();
    assert.match(notify, new RegExp(`Would POST ${receiver.url.replace(/[.]/g, '\\.')}/enrolled with:`));
    assert.match(notify, /"email": "ada@example\.test"/);
    assert.match(notify, /"session": "cs_dry"/);
    assert.match(notify, /"amount": 4900/);
    assert.match(notify, /authorization: Bearer ⟦secret:APP_TOKEN⟧/, 'the secret as a marker');
    assert.ok(!(await page.content()).includes(APP_TOKEN), 'never the secret value');
    await checkPage(page, 'workflow-dry-run');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 0, 'nothing was sent');
    assert.equal((await call('GET', `/workflows/${workflowId}/runs`)).body.data.length, 0, 'no run');

    // Any recent event of a type: one the trigger does not match says so.
    await page.goto(`${app.url}/workspaces/${ws}/workflows/${workflowId}?events=any&type=stripe.customer.created#dry-run`);
    const other = await page.getByLabel('Event', { exact: true }).locator('option').allInnerTexts();
    assert.equal(other.length, 1);
    assert.match(other[0]!, /stripe\.customer\.created .*\(trigger does not match\)/);
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.waitForURL(/\/dry-run#dry-run$/);
    assert.match(await page.locator('.dry-result').innerText(), /does not match/);
    // A type that is not one: said next to the field.
    await page.goto(`${app.url}/workspaces/${ws}/workflows/${workflowId}?events=any&type=not%20a%20type`);
    assert.match(await page.locator('#f-type-error').innerText(), /exact event type/);
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('an event starts a run: it appears in the run log, and its page shows the step timeline', async () => {
    const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/workflows/${workflowId}`);
    const csp = collectCspViolations(page);
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.waitForURL(/done=enabled/);
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /enabled/);
    assert.equal((await call('GET', `/workflows/${workflowId}`)).body.version, 1, 'enabling is not a new version');
    await stripe(checkout('cs_live', T0 + 20));
    const run = await waitFor(async () => {
      const r = (await call('GET', `/workflows/${workflowId}/runs`)).body.data[0];
      return r && r.status === 'succeeded' ? r : undefined;
    }, 'the run succeeded');
    assert.equal(receiver.requests.filter((r) => r.path === '/enrolled').length, 1);
    assert.equal(receiver.requests[0]!.headers.authorization, `Bearer ${APP_TOKEN}`, 'the receiver gets the secret itself');

    // The list shows the last run and the day's count.
    await page.goto(`${app.url}/workspaces/${ws}/workflows`);
    const row = page.locator(`#workflow-${workflowId}`);
    const rowText = await row.innerText();
    assert.match(rowText, /Course buyers/);
    assert.match(rowText, /enabled/);
    assert.match(rowText, /stripe · checkout_session · completed/);
    assert.match(rowText, /1\s+succeeded/);
    await checkPage(page, 'workflows');

    await row.getByRole('link', { name: 'Run log of Course buyers' }).click();
    await page.waitForURL(/\/runs$/);
    const runRow = page.locator(`#run-${run.id}`);
    assert.match(await runRow.innerText(), /succeeded/);
    assert.match(await runRow.innerText(), /stripe\.checkout\.session\.completed/);
    assert.equal(await runRow.getByRole('link', { name: 'Ada Lovelace' }).count(), 1, 'the customer, linked');
    await checkPage(page, 'workflow-runs');
    // The status filter: no failed run.
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=failed/);
    assert.match(await page.locator('main').innerText(), /No failed run/);
    await page.goBack();

    await page.locator(`#run-${run.id} a[href$="/runs/${run.id}"]`).click();
    await page.waitForURL(new RegExp(`/runs/${run.id}$`));
    const steps = page.locator('ol.timeline.steps > li');
    assert.equal(await steps.count(), 2);
    assert.match(await steps.nth(0).innerText(), /1\.\s+grant\s+access\.grant\s+succeeded/);
    const notify = await steps.nth(1).innerText();
    assert.match(notify, /2\.\s+notify\s+http\s+succeeded/);
    assert.match(notify, /Started[\s\S]*Finished[\s\S]*Duration/);
    assert.match(notify, /"authorization": "Bearer ⟦secret:APP_TOKEN⟧"/, 'the frozen input, secrets as markers');
    assert.match(notify, /"session": "cs_live"/);
    assert.match(await steps.nth(1).locator('table.attempts tbody tr').innerText(), /1\s+.*\s+200\s+ok/s);
    assert.ok(!(await page.content()).includes(APP_TOKEN), 'never the secret value');
    assert.equal(await page.getByRole('button', { name: 'Retry' }).count(), 0, 'no retry for a run that succeeded');
    await checkPage(page, 'workflow-run');
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('a failed run is retried from its page: the failed step runs again and the run succeeds', async () => {
    const wf = await call('POST', '/workflows', {
      name: 'Enrolment hook',
      trigger: { type: 'course.enrolled' },
      steps: [
        { id: 'remember', kind: 'crm.tag', add: ['enrolled'] },
        { id: 'hook', kind: 'http', url: `${receiver.url}/flaky`, body: { course: '{{ event.course }}' }, retry: { max: 0 } },
      ],
    });
    assert.equal(wf.status, 201, JSON.stringify(wf.body));
    flakyStatus = 400;
    assert.equal(
      (await call('POST', '/events', { type: 'course.enrolled', data: { course: 'course-101', customerId: 'cus_ada' } })).status,
      201,
    );
    const failed = await waitFor(async () => {
      const r = (await call('GET', `/workflows/${wf.body.id}/runs`)).body.data[0];
      return r && r.status === 'failed' ? r : undefined;
    }, 'the run failed');
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/workflows/${wf.body.id}/runs`);
    assert.match(await page.locator(`#run-${failed.id}`).innerText(), /failed/);
    await page.locator(`#run-${failed.id} a[href$="/runs/${failed.id}"]`).click();
    await page.waitForURL(new RegExp(`/runs/${failed.id}$`));
    const hook = page.locator('#step-hook');
    assert.match(await hook.innerText(), /hook\s+http\s+failed/);
    assert.match(await hook.locator('table.attempts').innerText(), /400\s+failed[\s\S]*HTTP 400[\s\S]*answer 400/);
    await checkPage(page, 'workflow-run-failed');

    flakyStatus = 200;
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL(/done=retried/);
    assert.match(await page.locator('main').innerText(), /Retrying/);
    await waitFor(async () => (await call('GET', `/runs/${failed.id}`)).body.status === 'succeeded', 'the retried run succeeded');
    await page.reload();
    assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /succeeded/);
    const attempts = page.locator('#step-hook table.attempts tbody tr');
    assert.equal(await attempts.count(), 2);
    assert.match(await attempts.nth(1).innerText(), /200\s+ok/);
    assert.match(await page.locator('#step-remember').innerText(), /succeeded/);
    assert.equal((await call('GET', '/messages?type=customer.tagged')).body.data.length, 1, 'the step that succeeded did not run again');
    assert.equal(receiver.requests.filter((r) => r.path === '/flaky').length, 2);
    assert.match(await page.locator('main').innerText(), /retried 1×/);
    // Retrying a run that is not failed: a notice, nothing changed.
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const again = await context.request.post(`${app.url}/workspaces/${ws}/workflows/${wf.body.id}/runs/${failed.id}/retry`, {
      form: { _csrf: csrf },
    });
    assert.match(again.url(), /problem=not_failed/);
    assert.match(await again.text(), /only a failed run can be retried/);
    await context.close();
  });

  test('a member tries a workflow but writes no definition: a definition can send the secrets anywhere (the POSTs answer 403)', async () => {
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/workflows`);
    assert.equal(await page.getByRole('link', { name: 'New workflow' }).count(), 0);
    await page.goto(`${app.url}/workspaces/${ws}/workflows/${workflowId}`);
    assert.equal(await page.getByLabel('Definition (JSON)').getAttribute('readonly'), '');
    assert.match(await page.locator('#definition-hint').innerText(), /needs the admin role/);
    for (const name of ['Save as a new version', 'Disable', 'Write trigger into the definition'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    assert.equal(await page.getByRole('button', { name: 'Dry run' }).count(), 1, 'a dry run sends nothing: members may try');
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const before = (await call('GET', `/workflows/${workflowId}`)).body;
    const leak = {
      ...courseBuyers(),
      steps: [{ id: 'out', kind: 'http', method: 'POST', url: `${receiver.url}/leak`, headers: { 'x-leak': '{{ secrets.APP_TOKEN }}' } }],
    };
    for (const [path, form] of [
      [`/workflows/${workflowId}`, { definition: JSON.stringify(leak) }],
      [`/workflows/${workflowId}/disable`, {}],
      ['/workflows', { definition: JSON.stringify(leak) }],
    ] as const) {
      const res = await context.request.post(`${app.url}/workspaces/${ws}${path}`, { form: { _csrf: csrf, ...form } });
      assert.equal(res.status(), 403, path);
      assert.match(await res.text(), /needs the admin role/);
    }
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/workflows/new`))?.status(), 403);
    const dry = await context.request.post(`${app.url}/workspaces/${ws}/workflows/${workflowId}/dry-run`, {
      form: { _csrf: csrf, eventId: storedEventId },
    });
    assert.equal(dry.status(), 200);
    const after = (await call('GET', `/workflows/${workflowId}`)).body;
    assert.deepEqual([after.version, after.enabled, after.steps], [before.version, before.enabled, before.steps]);
    assert.equal((await call('GET', '/workflows')).body.data.length, 2, 'no workflow created');
    await context.close();
  });

  test('a viewer reads the workflow pages but changes, tries and retries nothing (the POSTs answer 403)', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/workflows`);
    assert.equal(await page.getByRole('link', { name: 'New workflow' }).count(), 0);
    await page.goto(`${app.url}/workspaces/${ws}/workflows/${workflowId}`);
    assert.equal(await page.getByLabel('Definition (JSON)').getAttribute('readonly'), '');
    for (const name of ['Save as a new version', 'Disable', 'Dry run', 'Write trigger into the definition'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    await checkPage(page, 'workflow-viewer');
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const before = (await call('GET', `/workflows/${workflowId}`)).body;
    for (const [path, form] of [
      [`/workflows/${workflowId}`, { definition: JSON.stringify(courseBuyers()) }],
      [`/workflows/${workflowId}/disable`, {}],
      [`/workflows/${workflowId}/dry-run`, { eventId: storedEventId }],
      ['/workflows', { definition: JSON.stringify(courseBuyers()) }],
    ] as const) {
      const res = await context.request.post(`${app.url}/workspaces/${ws}${path}`, { form: { _csrf: csrf, ...form } });
      assert.equal(res.status(), 403, path);
    }
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/workflows/new`))?.status(), 403);
    const after = (await call('GET', `/workflows/${workflowId}`)).body;
    assert.deepEqual([after.version, after.enabled], [before.version, before.enabled]);
    assert.equal((await call('GET', '/workflows')).body.data.length, 2, 'no workflow created');
    // Without the CSRF token: refused even for an admin.
    const { context: adminContext } = await signedIn(browser, app, admin, `/workspaces/${ws}/workflows`);
    assert.equal(
      (await adminContext.request.post(`${app.url}/workspaces/${ws}/workflows/${workflowId}/disable`, { form: {} })).status(),
      403,
    );
    assert.equal((await call('GET', `/workflows/${workflowId}`)).body.enabled, true);
    await adminContext.close();
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/workflows/wfl_nothere`))?.status(), 404);
    await context.close();
  });

  test('the run log pages by 50 runs, newest first, keeping its status filter', async () => {
    const wf = await call('POST', '/workflows', {
      name: 'Page views',
      trigger: { type: 'page.viewed', if: 'event.n < 0' },
      steps: [{ id: 'tag', kind: 'crm.tag', add: ['reader'] }],
    });
    assert.equal(wf.status, 201, JSON.stringify(wf.body));
    for (let n = 1; n <= 51; n++) assert.equal((await call('POST', '/events', { type: 'page.viewed', data: { n } })).status, 201);
    const all = await waitFor(async () => {
      const r = (await call('GET', `/workflows/${wf.body.id}/runs?limit=100`)).body.data as { id: string; status: string }[];
      return r.length === 51 && r.every((x) => x.status === 'filtered') ? r : undefined;
    }, '51 filtered runs');
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/workflows/${wf.body.id}/runs?status=filtered`);
    const rows = page.locator('table.workflow-runs tbody tr');
    assert.equal(await rows.count(), 50);
    assert.equal(await rows.first().getAttribute('id'), `run-${all[0]!.id}`, 'newest first');
    await page.getByRole('link', { name: 'Older runs' }).click();
    await page.waitForURL(/cursor=/);
    assert.match(page.url(), /status=filtered/);
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute('id'), `run-${all[50]!.id}`, 'the oldest, on the second page');
    assert.equal(await page.getByRole('link', { name: 'Older runs' }).count(), 0);
    await page.getByRole('link', { name: 'Newest runs' }).click();
    await page.waitForURL((u) => !u.search.includes('cursor'));
    assert.equal(await rows.count(), 50);
    // A filtered run's page says why no step ran.
    await page.goto(`${app.url}/workspaces/${ws}/workflows/${wf.body.id}/runs/${all[0]!.id}`);
    assert.match(await page.locator('main').innerText(), /No step ran: the trigger's condition was false/);
    // A status that is not one: said next to the filter.
    assert.equal((await page.goto(`${app.url}/workspaces/${ws}/workflows/${wf.body.id}/runs?status=maybe`))?.status(), 400);
    assert.match(await page.locator('#f-status-error').innerText(), /status must be one of/);
    await context.close();
  });
});
