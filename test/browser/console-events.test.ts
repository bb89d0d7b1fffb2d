// The console's events pages in Chromium: a Stripe event signed with the official SDK appears in the live tail
// without a reload, pause holds new rows and resume shows them in order, paging by id does not shift while
// events arrive, the event page shows the formatted payload and what the event did, replay (member yes, viewer
// 403 and no button), axe on both pages; and the tail's stream ends cleanly on hang-up and on shutdown.
import assert from 'node:assert/strict';
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
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const SECRET = 'whsec_console_events_0123456789';

async function workspaceWithStripe(app: TestApp, name: string): Promise<string> {
  const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
  const put = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  return ws;
}

/** Posts a signed Stripe event to the workspace's webhook URL; returns the provider's event id. */
async function send(app: TestApp, ws: string, type: string, object: Record<string, unknown>): Promise<string> {
  const payload = stripeEvent(type, object);
  const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return JSON.parse(payload).id as string;
}

async function storedEvent(app: TestApp, ws: string, providerEventId: string, status?: string): Promise<any> {
  return waitFor(
    async () => {
      const list = await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=500`);
      const e = list.body.data.find((x: any) => x.providerEventId === providerEventId);
      return e && (!status || e.status === status) && e;
    },
    `event ${providerEventId}${status ? ` ${status}` : ''}`,
  );
}

const rowIds = (page: Page) => page.locator('#event-rows tr').evaluateAll((rows) => rows.map((r) => r.id));

describe('console events', { skip: noBrowser }, () => {
  let app: TestApp;
  let browser: Browser;
  let ws: string;
  before(async () => {
    app = await startTestApp();
    browser = await launchBrowser();
    ws = await workspaceWithStripe(app, 'Events <b>here</b>');
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('a signed Stripe event appears in the live tail without a reload; pause holds new rows, resume shows them in order', async () => {
    const member = await makeUser(app, 'member', [ws]);
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/events`);
    const csp = collectCspViolations(page);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Events');
    assert.equal(await page.locator('#event-rows tr').count(), 0);
    await page.locator('#event-rows').waitFor({ state: 'attached' });
    // A mark that a reload would wipe out.
    await page.evaluate('window.__sameDocument = true');

    const a = await send(app, ws, 'customer.created', { id: 'cus_tail_a', email: 'tail-a@example.test', name: 'Tail A' });
    const rowA = page.locator('#event-rows tr', { hasText: 'cus_tail_a' });
    await rowA.waitFor({ timeout: 10_000 });
    assert.match(await rowA.innerText(), /customer\.created/);
    assert.match(await rowA.innerText(), /stripe/);
    assert.equal(await page.evaluate('window.__sameDocument'), true, 'no reload');

    // Paused: a new event is received by the page but held back.
    await page.getByRole('button', { name: 'Pause' }).click();
    assert.equal(await page.getByRole('button', { name: 'Resume' }).getAttribute('aria-pressed'), 'true');
    assert.match(await page.locator('#tail-status').innerText(), /Paused/);
    const held = () => page.evaluate<string>("(document.getElementById('event-rows').__held ?? []).join('\\n')");
    await send(app, ws, 'customer.created', { id: 'cus_tail_b', email: 'tail-b@example.test' });
    await waitFor(async () => (await held()).includes('cus_tail_b'), 'row B held');
    await send(app, ws, 'customer.created', { id: 'cus_tail_c', email: 'tail-c@example.test' });
    await waitFor(async () => (await held()).includes('cus_tail_c'), 'row C held');
    assert.equal(await page.locator('#event-rows tr', { hasText: 'cus_tail_b' }).count(), 0, 'held rows are not shown while paused');
    assert.equal(await page.locator('#event-rows tr').count(), 1);

    await page.getByRole('button', { name: 'Resume' }).click();
    assert.match(await page.locator('#tail-status').innerText(), /Live/);
    const texts = await page.locator('#event-rows tr').allInnerTexts();
    assert.equal(texts.length, 3);
    assert.deepEqual(
      texts.map((t) => /cus_tail_[abc]/.exec(t)?.[0]),
      ['cus_tail_c', 'cus_tail_b', 'cus_tail_a'],
      'newest on top',
    );
    // Live again: the next one goes straight in, on top.
    await send(app, ws, 'customer.created', { id: 'cus_tail_d', email: 'tail-d@example.test' });
    await page.locator('#event-rows tr', { hasText: 'cus_tail_d' }).waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#event-rows tr').first().innerText(), /cus_tail_d/);
    assert.equal(await page.locator('#event-rows tr').count(), 4, 'each event once');

    // The row links to the event's page, and the tail's rows are the list's rows after a reload.
    await storedEvent(app, ws, a, 'processed');
    await page.reload();
    const rowAfter = page.locator('#event-rows tr', { hasText: 'cus_tail_a' });
    assert.match(await rowAfter.innerText(), /processed/);
    assert.equal(await rowAfter.getByRole('link', { name: 'Tail A' }).count(), 1, 'the linked customer, as a deep link');

    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));
    assert.deepEqual(csp, [], 'no Content-Security-Policy violation');
    await context.close();
  });

  test('filters are a GET form; a bad value is shown next to its field and the typed values are kept', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${ws}/events`);
    await page.getByLabel('Type').fill('customer.created');
    await page.getByLabel('Received').selectOption('day');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=customer\.created/);
    assert.ok((await page.locator('#event-rows tr').count()) >= 4);
    for (const text of await page.locator('#event-rows tr').allInnerTexts()) assert.match(text, /customer\.created/);

    await page.getByLabel('Type').fill('invoice.paid');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=invoice\.paid/);
    assert.equal(await page.locator('#event-rows tr').count(), 0);
    assert.match(await page.locator('main').innerText(), /No events match these filters/);

    const res = await page.goto(`${app.url}/workspaces/${ws}/events?status=sideways&type=x`);
    assert.equal(res?.status(), 400);
    assert.match(await page.locator('#f-status-error').innerText(), /status must be one of/);
    assert.equal(await page.getByLabel('Type').inputValue(), 'x', 'what was typed is kept');

    // A star anywhere but a family's end (customer.*) is not a filter: said next to the field, not an empty list that
    // reads as "no customer event ever arrived".
    await page.getByLabel('Type').fill('customer*');
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=customer\*/);
    assert.match(await page.locator('#f-type-error').innerText(), /a type prefix followed by "\.\*"/);
    assert.doesNotMatch(await page.locator('main').innerText(), /No events match these filters/);
    assert.equal(await page.getByLabel('Type').inputValue(), 'customer*');
    // A family lists each of its types.
    await page.getByLabel('Type').fill('customer.*');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=customer\.\*/);
    assert.ok((await page.locator('#event-rows tr').count()) >= 4);
    for (const text of await page.locator('#event-rows tr').allInnerTexts()) assert.match(text, /customer\./);
    await context.close();
  });

  test('paging by id: the older page does not shift while new events arrive', async () => {
    const pws = await workspaceWithStripe(app, 'Paging');
    const ids: string[] = [];
    for (let i = 0; i < 55; i++) ids.push(await send(app, pws, 'invoice.paid', { id: `in_page_${i}` }));
    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${pws}/events?status=received`)).body.data.length === 0,
      'processing',
    );
    const viewer = await makeUser(app, 'viewer', [pws]);
    const { context, page } = await signedIn(browser, app, viewer, `/workspaces/${pws}/events`);
    assert.equal(await page.locator('#event-rows tr').count(), 50);
    await page.getByRole('link', { name: 'Older events' }).click();
    await page.waitForURL(/cursor=ev_/);
    const olderUrl = page.url();
    const older = await rowIds(page);
    assert.equal(older.length, 5);
    assert.equal(await page.locator('[data-tail-toggle]').count(), 0, 'no live tail on an older page');

    for (let i = 0; i < 3; i++) await send(app, pws, 'invoice.paid', { id: `in_late_${i}` });
    await page.goto(olderUrl);
    assert.deepEqual(await rowIds(page), older, 'the same rows');

    await page.getByRole('link', { name: 'Newest events' }).click();
    await page.waitForURL((u) => !u.search.includes('cursor'));
    assert.match(await page.locator('#event-rows tr').first().innerText(), /in_late_2/);
    await context.close();
  });

  test('the event page: formatted payload, processing, the customer and messages; replay for a member, 403 for a viewer', async () => {
    const providerId = await send(app, ws, 'customer.created', {
      id: 'cus_detail',
      email: 'detail@example.test',
      name: 'Detail </code><script>alert(1)</script>',
    });
    const event = await storedEvent(app, ws, providerId, 'processed');
    const member = await makeUser(app, 'member', [ws]);
    const { context, page } = await signedIn(browser, app, member, `/workspaces/${ws}/events`);
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.locator('#event-rows tr', { hasText: 'cus_detail' }).getByRole('link', { name: 'customer.created' }).click();
    await page.waitForURL(`${app.url}/workspaces/${ws}/events/${event.id}`);
    const code = await page.locator('pre code').innerText();
    assert.deepEqual(JSON.parse(code), event.payload ?? (await app.api('GET', `/api/v1/workspaces/${ws}/events/${event.id}`)).body.payload);
    assert.match(code, /\n {2}"object": "event",\n/, 'pretty-printed');
    assert.equal(await page.locator('main script').count(), 0, 'payload text is never markup');
    assert.match(await page.locator('main').innerText(), /Provider event id\s+evt_test_/);
    assert.match(await page.locator('main').innerText(), /stripe\.customer\.created/, 'the raw message it published');
    assert.match(await page.locator('main').innerText(), /customer\.created/);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));

    await page.getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL(/replayed=1/);
    assert.match(await page.getByRole('status').first().innerText(), /Replay queued/);
    const replayed = await waitFor(async () => {
      const e = (await app.api('GET', `/api/v1/workspaces/${ws}/events/${event.id}`)).body;
      return e.status === 'processed' && e.processedAt !== event.processedAt && e;
    }, 'replayed and processed again');
    assert.equal(replayed.attempts, 1);

    // The customer link goes to the customer's page.
    await page.reload();
    await page.getByRole('link', { name: 'Detail </code><script>alert(1)</script>' }).click();
    await page.waitForURL(/\/customers\/cus_/);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Detail </code><script>alert(1)</script>');
    assert.equal(dialogs, 0);
    await context.close();

    const viewer = await makeUser(app, 'viewer', [ws]);
    const v = await signedIn(browser, app, viewer, `/workspaces/${ws}/events/${event.id}`);
    assert.equal(await v.page.getByRole('button', { name: 'Replay' }).count(), 0, 'no Replay button for a viewer');
    assert.match(await v.page.locator('main').innerText(), /needs the member role/);
    const csrf = await v.page.locator('input[name=_csrf]').first().getAttribute('value');
    const refused = await v.page.request.post(`${app.url}/workspaces/${ws}/events/${event.id}/replay`, {
      form: { _csrf: csrf! },
      maxRedirects: 0,
    });
    assert.equal(refused.status(), 403);
    assert.match(await refused.text(), /needs the member role/);
    const after = (await app.api('GET', `/api/v1/workspaces/${ws}/events/${event.id}`)).body;
    assert.equal(after.processedAt, replayed.processedAt, 'nothing replayed');
    await v.context.close();
  });

  test('the stream: rows of matching events only, a peer hanging up harms nothing', async () => {
    const viewer = await makeUser(app, 'viewer', [ws]);
    const { context } = await signedIn(browser, app, viewer, `/workspaces/${ws}/events`);
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const controller = new AbortController();
    const res = await fetch(`${app.url}/workspaces/${ws}/events/stream?type=charge.refunded`, {
      headers: { cookie, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.getReader();
    let received = '';
    await send(app, ws, 'customer.updated', { id: 'cus_not_this_one' });
    await send(app, ws, 'charge.refunded', { id: 'ch_stream_1' });
    await waitFor(async () => {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value);
      return received.includes('ch_stream_1');
    }, 'the matching row');
    assert.match(received, /^event: event$/m);
    assert.match(received, /^id: ev_[0-9a-z]{24}$/m);
    assert.doesNotMatch(received, /cus_not_this_one/);
    controller.abort();
    // The server goes on.
    assert.equal((await app.api('GET', '/api/v1/workspaces')).status, 200);
    await context.close();
  });
});

describe('console events: shutdown with open tails', { skip: noBrowser }, () => {
  test('app.close() ends open streams instead of waiting for them', { timeout: 30_000 }, async () => {
    const app = await startTestApp({ worker: false });
    const browser = await launchBrowser();
    try {
      const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Shutdown' })).body.id;
      const user = await makeUser(app, 'viewer', [ws]);
      const { context, page } = await signedIn(browser, app, user, `/workspaces/${ws}/events`);
      const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const res = await fetch(`${app.url}/workspaces/${ws}/events/stream`, { headers: { cookie } });
      const reader = res.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /retry: /);
      await page.locator('[sse-connect]').waitFor({ state: 'attached' });
      await app.close();
      // The stream ended: the reader reaches its end instead of waiting forever.
      for (;;) if ((await reader.read()).done) break;
      await context.close();
    } finally {
      await browser.close();
    }
  });
});
