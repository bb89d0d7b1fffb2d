// Piano end to end: encrypted webhooks in (GET, form, JSON), every refusal a 400 that stores nothing, access
// rows that end right in any delivery order, confirmation through Piano's API, the Piano proxy, and one person
// across Piano and Stripe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { pianoData, sendPiano, startPianoApi, type PianoApiStandIn } from '../helpers/piano.js';
import { makeUser } from '../helpers/browser.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { rejectionsSettled } from '../../src/services/ingest/inbound-runtime.js';

const KEY = 'PianoTestPrivateKey0123456789abcdefghij'; // 40 characters: AES uses 32, the HMAC all of them
const AID = 'AppTest123';
const E1 = 1_800_000_000;
const E2 = 1_810_000_000;
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('Piano', () => {
  let app: TestApp;
  let pianoApi: PianoApiStandIn;
  const receivers: Receiver[] = [];
  before(async () => {
    pianoApi = await startPianoApi();
    app = await startTestApp({
      config: { pianoApiUrl: pianoApi.url, outboundAllow: LOOPBACK, retrySchedule: [0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3] },
    });
  });
  after(async () => {
    await app.close();
    await pianoApi.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  async function workspace(name: string, connection: Record<string, unknown> = {}): Promise<string> {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    const res = await call('PUT', ws, '/connections/piano', { aid: AID, privateKey: KEY, ...connection });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return ws;
  }
  const events = async (ws: string) => (await call('GET', ws, '/events?provider=piano')).body.data as any[];
  const drained = (ws: string) =>
    waitFor(async () => (await call('GET', ws, '/events?status=received')).body.data.length === 0, 'processing');
  /** A console session cookie for the user, through the real login form. */
  async function consoleSession(user: { email: string; password: string }): Promise<string> {
    const form = await fetch(`${app.url}/login`);
    const pre = form.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const res = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, email: user.email, password: user.password, next: '/' }),
    });
    assert.equal(res.status, 303);
    return res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
  }

  test('GET, form and JSON deliveries are stored once; refusals are 400 and store nothing', async () => {
    const ws = await workspace('ingest');
    const view = (await call('GET', ws, '/connections/piano')).body;
    assert.equal(view.aid, AID);
    assert.equal(JSON.stringify(view).includes(KEY), false, 'the key is never returned');
    assert.match(view.webhookUrl, new RegExp(`/webhooks/piano/${ws}$`));

    const payload = (n: number) => ({
      version: 2,
      type: 'user_created',
      event: 'user_created',
      aid: AID,
      uid: `u${n}`,
      timestamp: String(E1 + n),
    });
    const data = pianoData(payload(1), KEY);
    // A HEAD changes nothing: it is not a delivery.
    const head = await fetch(`${app.url}/webhooks/piano/${ws}?data=${encodeURIComponent(data)}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal((await events(ws)).length, 0, 'nothing stored by a HEAD');
    assert.deepEqual(await sendPiano(app.url, ws, data, 'GET'), { status: 200, body: { received: true } });
    assert.deepEqual(await sendPiano(app.url, ws, data, 'POST form'), { status: 200, body: { received: true, duplicate: true } });
    assert.deepEqual(await sendPiano(app.url, ws, pianoData(payload(2), KEY), 'POST form'), { status: 200, body: { received: true } });
    assert.deepEqual(await sendPiano(app.url, ws, pianoData(payload(3), KEY), 'POST json'), { status: 200, body: { received: true } });
    // Unknown types, `test` events and version 1 payloads are stored too: Piano's queue must never block on them.
    for (const p of [
      { type: 'voucher_purchased', version: 2, aid: AID },
      { type: 'test', aid: AID, timestamp: E1 },
      { type: 'access', event: 'new_purchase', aid: AID, uid: 'v1', rid: 'R1', expires: E1 },
    ]) {
      assert.equal((await sendPiano(app.url, ws, pianoData(p, KEY))).status, 200, JSON.stringify(p));
    }
    await drained(ws);
    const stored = await events(ws);
    assert.equal(stored.length, 6);
    assert.deepEqual(Object.fromEntries(stored.map((e) => [e.type, e.status])), {
      user_created: 'processed',
      voucher_purchased: 'ignored',
      test: 'ignored',
      access: 'processed',
    });

    const [cipherText, mac] = pianoData(payload(9), KEY).split('~~~') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const refusals: [string | undefined, string][] = [
      [`${flip(cipherText, 10)}~~~${mac}`, 'hmac_mismatch'],
      [`${cipherText}~~~${flip(mac, 10)}`, 'hmac_mismatch'],
      [cipherText, 'hmac_missing'],
      [pianoData({ ...payload(9), aid: 'SomeoneElse' }, KEY), 'aid_mismatch'],
      [pianoData(payload(9), 'AnotherKeyAltogether0123456789abcdefghij'), 'hmac_mismatch'],
      [pianoData({} as never, KEY).replace(/^[^~]+/, ''), 'malformed_data'],
      [undefined, 'missing_data'],
    ];
    for (const [bad, reason] of refusals) {
      const res =
        bad === undefined
          ? await fetch(`${app.url}/webhooks/piano/${ws}`).then(async (r) => ({ status: r.status, body: await r.json() }))
          : await sendPiano(app.url, ws, bad);
      assert.equal(res.status, 400, reason);
      assert.equal((res.body as any).error.code, 'SIGNATURE_INVALID');
      assert.equal((res.body as any).error.reason, reason);
    }
    // A payload that decrypts and verifies but is not JSON: built with the right key.
    const notJson = (await import('../../src/inbound/piano/crypto.js')).encryptPianoData('plain text', KEY);
    assert.equal((await sendPiano(app.url, ws, notJson)).body.error.reason, 'not_json');
    assert.equal((await events(ws)).length, 6, 'nothing stored by a refusal');
    await rejectionsSettled(app.ctx); // counts are written in the background
    const health = (await call('GET', ws, '/health')).body.providers.piano;
    assert.ok(health.rejections.some((r: any) => r.reason === 'hmac_mismatch' && r.count >= 3));

    const other = (await app.api('POST', '/api/v1/workspaces', { name: 'not connected' })).body.id;
    assert.equal((await sendPiano(app.url, other, data)).status, 404);
    assert.equal((await sendPiano(app.url, 'ws_nope', data)).status, 404);
    for (const bad of [{ aid: 'bad aid!' }, { privateKey: 'short' }, { region: 'mars' }, { colour: 'blue' }]) {
      assert.equal((await call('PUT', ws, '/connections/piano', bad)).status, 400, JSON.stringify(bad));
    }
  });

  test("a type that names a member of JavaScript's Object (constructor, __proto__, hasOwnProperty) is ignored like any unknown type", async () => {
    const ws = await workspace('object member types');
    const types = ['constructor', '__proto__', 'hasOwnProperty', 'toString', 'valueOf'];
    for (const type of types) {
      assert.equal((await sendPiano(app.url, ws, pianoData({ version: 2, type, aid: AID, uid: 'om1' }, KEY))).status, 200, type);
    }
    await drained(ws);
    const stored = await events(ws);
    assert.deepEqual(
      Object.fromEntries(stored.map((e) => [e.type, `${e.status}:${e.error ?? ''}`])),
      Object.fromEntries(types.map((t) => [t, 'ignored:'])),
    );
    // The rebuild projects through the same table: it must not trip on them either.
    assert.equal((await call('POST', ws, '/rebuild', {})).status, 200);
  });

  test('the same webhook in another base64 spelling is a duplicate; a MAC with junk after it is refused', async () => {
    const ws = await workspace('dedupe');
    const payload = { version: 2, type: 'user_created', event: 'user_created', aid: AID, uid: 'uDedupe', timestamp: String(E1) };
    const data = pianoData(payload, KEY);
    const [cipherText, mac] = data.split('~~~') as [string, string];
    const toStandard = (s: string) => s.replace(/-/g, '+').replace(/_/g, '/');
    const padded = (s: string) => s + '='.repeat((4 - (s.length % 4)) % 4);
    assert.deepEqual(await sendPiano(app.url, ws, data), { status: 200, body: { received: true } });
    // Each of these verifies and decrypts to the same message: each is that message again, not a new one. (The
    // HMAC covers the cipher text as sent, so only the MAC's own spelling can vary.)
    for (const variant of [`${cipherText}~~~${mac}=`, `${cipherText}~~~${toStandard(padded(mac))}`, ` ${data} `]) {
      assert.deepEqual(
        await sendPiano(app.url, ws, variant, 'POST form'),
        { status: 200, body: { received: true, duplicate: true } },
        variant,
      );
    }
    for (const junk of [`${mac}==`, `${mac}AA`, `${mac}=x`]) {
      const res = await sendPiano(app.url, ws, `${cipherText}~~~${junk}`, 'POST form');
      assert.equal(res.status, 400, junk);
      assert.equal(res.body.error.reason, 'hmac_mismatch');
    }
    await drained(ws);
    assert.equal((await events(ws)).length, 1);
    const published = (await call('GET', ws, '/messages?type=piano.*')).body.data;
    assert.equal(published.length, 1, 'published once');
  });

  test('granted → modified → revoked in any delivery order ends as one revoked row with the right expiry', async () => {
    const base = {
      version: 2,
      aid: AID,
      uid: 'reader1',
      rid: 'RPREMIUM',
      term_id: 'TM1',
      access_id: 'ACC1',
      user_email: 'reader@example.com',
    };
    const granted = pianoData({ ...base, type: 'access_granted', event: 'new_purchase', expires: E1 }, KEY);
    const modified = pianoData({ ...base, type: 'access_modified', event: 'subscription_updated', expires: E2 }, KEY);
    const revoked = pianoData({ ...base, type: 'access_revoked', event: 'access_revoked', expires: E2 }, KEY);
    const orders = permutations([granted, modified, revoked]);
    for (const [i, order] of orders.entries()) {
      const ws = await workspace(`access order ${i}`);
      for (const d of order) assert.equal((await sendPiano(app.url, ws, d)).status, 200);
      await drained(ws);
      const rows = (await call('GET', ws, '/access')).body.data;
      assert.equal(rows.length, 1, `order ${i}`);
      assert.equal(rows[0].status, 'revoked', `order ${i}`);
      assert.equal(rows[0].expiresAt, new Date(E2 * 1000).toISOString(), `order ${i}`);
      assert.equal(rows[0].resource, 'RPREMIUM');
      assert.equal(rows[0].termId, 'TM1');
      const customer = (await call('GET', ws, `/customers/${rows[0].customerId}`)).body;
      assert.equal(customer.email, 'reader@example.com');
      assert.equal(customer.timeline.length, 3);
      if (i === 0) {
        const types = (await call('GET', ws, '/messages?limit=100')).body.data
          .map((m: any) => m.type)
          .filter((t: string) => !t.startsWith('piano.'));
        assert.deepEqual(types.sort(), ['access.granted', 'access.modified', 'access.revoked', 'customer.created', 'order.completed']);
        const rebuild = await call('POST', ws, '/rebuild', {});
        for (const t of Object.values<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 });
      }
    }
  });

  test('an access expiry no date can hold reads as none, in the row and in the order: the event is processed, not failed', async () => {
    const ws = await workspace('odd expiries');
    const base = { version: 2, aid: AID, type: 'access_granted', event: 'new_purchase', rid: 'RODD' };
    for (const p of [
      { ...base, uid: 'odd1', access_id: 'ODD1', expires: 1e300 },
      { ...base, uid: 'odd2', access_id: 'ODD2', expires: '99999999999999999' },
      // Two modifies, the second dated in milliseconds (E1, earlier than E2): ranked by the date, not by the digits.
      { ...base, uid: 'odd3', access_id: 'ODD3', type: 'access_modified', event: 'subscription_updated', expires: E2 },
      { ...base, uid: 'odd3', access_id: 'ODD3', type: 'access_modified', event: 'subscription_updated', expires: E1 * 1000 },
    ]) {
      assert.equal((await sendPiano(app.url, ws, pianoData(p, KEY))).status, 200);
    }
    await drained(ws);
    assert.deepEqual(
      (await events(ws)).filter((e) => e.status !== 'processed').map((e) => `${e.type}:${e.status}:${e.error}`),
      [],
    );
    const rows = Object.fromEntries(((await call('GET', ws, '/access')).body.data as any[]).map((a) => [a.providerAccessId, a]));
    assert.equal(rows.ODD1.status, 'active');
    assert.equal(rows.ODD1.expiresAt, null);
    assert.equal(rows.ODD2.expiresAt, null);
    assert.equal(rows.ODD3.expiresAt, new Date(E2 * 1000).toISOString(), 'the later expiry wins whatever its unit');
  });

  test('a refund whose amount no amount column can hold is kept without the amount: processed, not failed', async () => {
    const ws = await workspace('odd refunds');
    for (const p of [
      { version: 2, aid: AID, type: 'payment_refund', uid: 'rf1', payment_id: 'PAYHUGE', amount: 1e20, currency: 'EUR' },
      { version: 2, aid: AID, type: 'payment_refund', uid: 'rf2', payment_id: 'PAYOK', amount: '12.34', currency: 'EUR' },
    ]) {
      assert.equal((await sendPiano(app.url, ws, pianoData(p, KEY))).status, 200);
    }
    await drained(ws);
    assert.deepEqual(
      (await events(ws)).filter((e) => e.status !== 'processed').map((e) => `${e.type}:${e.status}:${e.error}`),
      [],
    );
    const payments = Object.fromEntries(((await call('GET', ws, '/payments')).body.data as any[]).map((p) => [p.providerId, p]));
    assert.equal(payments['refund:PAYHUGE'].amount, null);
    assert.equal(payments['refund:PAYOK'].amount, 1234);
    const refunded = (await call('GET', ws, '/messages?type=order.refunded')).body.data as any[];
    assert.equal(refunded.length, 2, 'each refund is announced');
  });

  test('a refund without an amount keeps it unknown (null), in the row and in order.refunded, not a refund of 0', async () => {
    const ws = await workspace('refunds without amount');
    const refund = { version: 2, aid: AID, type: 'payment_refund', currency: 'EUR' };
    for (const p of [
      { ...refund, uid: 'rn1', payment_id: 'PAYNULL', amount: null },
      { ...refund, uid: 'rn2', payment_id: 'PAYABSENT' },
      { ...refund, uid: 'rn3', payment_id: 'PAYEMPTY', amount: '' },
      { ...refund, uid: 'rn4', payment_id: 'PAYBOOL', amount: true },
      { ...refund, uid: 'rn5', payment_id: 'PAYZERO', amount: 0 },
      { ...refund, uid: 'rn6', payment_id: 'PAYNUM', amount: 9.99 },
    ]) {
      assert.equal((await sendPiano(app.url, ws, pianoData(p, KEY))).status, 200);
    }
    await drained(ws);
    assert.deepEqual(
      (await events(ws)).filter((e) => e.status !== 'processed').map((e) => `${e.type}:${e.status}:${e.error}`),
      [],
    );
    const payments = Object.fromEntries(
      ((await call('GET', ws, '/payments?kind=refund')).body.data as any[]).map((p) => [p.providerId, p]),
    );
    const unknown = ['refund:PAYNULL', 'refund:PAYABSENT', 'refund:PAYEMPTY', 'refund:PAYBOOL'];
    for (const id of unknown) assert.equal(payments[id].amount, null, `${id}: the amount is not known`);
    assert.equal(payments['refund:PAYZERO'].amount, 0, 'a refund of 0 Piano said is one');
    assert.equal(payments['refund:PAYNUM'].amount, 999);
    const refunded = Object.fromEntries(
      ((await call('GET', ws, '/messages?type=order.refunded')).body.data as any[]).map((m) => [m.data.payment.providerId, m.data.payment]),
    );
    assert.equal(Object.keys(refunded).length, 6, 'each refund is announced');
    for (const id of ['PAYNULL', 'PAYABSENT', 'PAYEMPTY', 'PAYBOOL']) {
      assert.ok(Object.hasOwn(refunded[id], 'amountRefunded'), id);
      assert.equal(refunded[id].amountRefunded, null, `${id}: announced without an amount`);
    }
    assert.equal(refunded.PAYZERO.amountRefunded, 0);
    assert.equal(refunded.PAYNUM.amountRefunded, 999);
  });

  test('a reader known only through events without an email is listed under /customers (API and console) and found by uid', async () => {
    const ws = await workspace('readers without email');
    for (const p of [
      // Neither an email nor a name: the uid is all Piano says of these readers.
      { version: 2, type: 'access_granted', event: 'new_purchase', uid: 'quiet-access', rid: 'RQ', access_id: 'AQ1', expires: E1 },
      { version: 2, type: 'subscription_auto_renew_changed', uid: 'quiet-sub', subscription_id: 'RCQ1', term_id: 'TMQ', auto_renew: false },
      { version: 2, type: 'payment_refund', uid: 'quiet-refund', payment_id: 'PAYQ', amount: 5, currency: 'EUR' },
      // A name but no email.
      {
        version: 2,
        type: 'user_updated',
        event: 'user_updated',
        uid: 'named',
        first_name: 'Ada',
        last_name: 'Quiet',
        timestamp: String(E1),
      },
      // An email: listed as ever.
      {
        version: 2,
        type: 'access_granted',
        event: 'new_purchase',
        uid: 'loud',
        rid: 'RQ',
        access_id: 'AQ2',
        user_email: 'loud@example.com',
        expires: E1,
      },
    ]) {
      assert.equal((await sendPiano(app.url, ws, pianoData({ aid: AID, ...p }, KEY))).status, 200);
    }
    await drained(ws);
    const list = async (query = '') => (await call('GET', ws, `/customers${query}`)).body.data as any[];
    const uids = (rows: any[]) => rows.map((c) => c.providerId).sort();
    const all = await list();
    assert.deepEqual(uids(all), ['loud', 'named', 'quiet-access', 'quiet-refund', 'quiet-sub']);
    for (const c of all.filter((c) => c.providerId !== 'loud')) assert.equal(c.email, null, c.providerId);
    assert.equal(all.find((c) => c.providerId === 'named').name, 'Ada Quiet');
    // Search and filters are unchanged: a whole uid, part of a name or of an email; the email filter is exact.
    assert.deepEqual(uids(await list('?q=quiet-access')), ['quiet-access']);
    assert.deepEqual(uids(await list('?q=quiet')), ['named']);
    assert.deepEqual(uids(await list('?q=example.com')), ['loud']);
    assert.deepEqual(uids(await list('?email=loud@example.com')), ['loud']);
    assert.deepEqual(uids(await list('?q=nobody')), []);
    // Paged like any list.
    const first = (await call('GET', ws, '/customers?limit=2')).body;
    const second = (await call('GET', ws, `/customers?limit=10&cursor=${encodeURIComponent(first.nextCursor)}`)).body;
    assert.deepEqual(uids([...first.data, ...second.data]), uids(all));
    // The customer's page shows what Piano said.
    const detail = (await call('GET', ws, '/customers/quiet-sub')).body;
    assert.equal(detail.subscriptions.length, 1);

    // The console lists them too, by uid (or name) when there is no email.
    const user = await makeUser(app, 'viewer', [ws]);
    const cookie = await consoleSession(user);
    const html = await (await fetch(`${app.url}/workspaces/${ws}/customers`, { headers: { cookie } })).text();
    for (const label of ['quiet-access', 'quiet-sub', 'quiet-refund', 'Ada Quiet', 'loud@example.com']) {
      assert.ok(html.includes(`>${label}</a>`), `the console lists ${label}`);
    }
    const quiet = all.find((c) => c.providerId === 'quiet-access');
    const page = await fetch(`${app.url}/workspaces/${ws}/customers/${quiet.id}`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.ok((await page.text()).includes('quiet-access'), "the customer's page names the reader by uid");

    // When Piano later tells the reader's email, the same customer gets it and is announced once, as before.
    await sendPiano(
      app.url,
      ws,
      pianoData(
        { version: 2, aid: AID, type: 'user_created', uid: 'quiet-access', user_email: 'found@example.com', timestamp: String(E1) },
        KEY,
      ),
    );
    await drained(ws);
    assert.deepEqual(uids(await list('?email=found@example.com')), ['quiet-access']);
    assert.equal((await list()).length, 5);
    const created = ((await call('GET', ws, '/messages?type=customer.created')).body.data as any[]).map((m) => m.data.customer);
    assert.deepEqual(
      created.filter((c) => c.providerId === 'quiet-access').map((c) => c.email),
      ['found@example.com'],
    );
    const rebuild = await call('POST', ws, '/rebuild', {});
    for (const [table, t] of Object.entries<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
  });

  test('an access event without a uid neither takes the access from its customer nor keeps it from one, in either order', async () => {
    const ws = await workspace('access without uid');
    const grant = (id: string) =>
      pianoData(
        { version: 2, aid: AID, rid: 'RNOUID', access_id: id, uid: 'withuid', type: 'access_granted', event: 'new_purchase', expires: E1 },
        KEY,
      );
    const modify = (id: string) =>
      pianoData(
        { version: 2, aid: AID, rid: 'RNOUID', access_id: id, type: 'access_modified', event: 'subscription_updated', expires: E2 },
        KEY,
      );
    // Each pair is drained in between: events without a uid are not serialised with the user's.
    for (const data of [grant('NOUID1'), modify('NOUID1'), modify('NOUID2'), grant('NOUID2')]) {
      assert.equal((await sendPiano(app.url, ws, data)).status, 200);
      await drained(ws);
    }
    const rows = Object.fromEntries(((await call('GET', ws, '/access')).body.data as any[]).map((a) => [a.providerAccessId, a]));
    for (const id of ['NOUID1', 'NOUID2']) {
      assert.equal(rows[id].expiresAt, new Date(E2 * 1000).toISOString(), `${id}: the modify holds`);
      assert.ok(rows[id].customerId, `${id}: linked to its customer`);
      assert.equal((await call('GET', ws, `/customers/${rows[id].customerId}`)).body.providerId, 'withuid');
    }
    const rebuild = await call('POST', ws, '/rebuild', {});
    for (const [table, t] of Object.entries<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
  });

  test('a new purchase is one order.completed in any delivery order, even after its modify or revoke', async () => {
    const base = { version: 2, aid: AID, uid: 'buyer1', rid: 'RBUY', term_id: 'TMB', access_id: 'BUY1' };
    const granted = pianoData({ ...base, type: 'access_granted', event: 'new_purchase', expires: E1, payment_id: 'UPBUY1' }, KEY);
    const grantedAgain = pianoData({ payment_id: 'UPBUY1', ...base, type: 'access_granted', event: 'new_purchase', expires: E1 }, KEY);
    const modified = pianoData({ ...base, type: 'access_modified', event: 'subscription_updated', expires: E2 }, KEY);
    const revoked = pianoData({ ...base, type: 'access_revoked', event: 'access_revoked', expires: E2 }, KEY);
    for (const [i, order] of [
      [modified, granted, grantedAgain],
      [revoked, granted],
      [granted, modified, revoked, grantedAgain],
    ].entries()) {
      const ws = await workspace(`purchase order ${i}`);
      for (const d of order) assert.equal((await sendPiano(app.url, ws, d)).status, 200);
      await drained(ws);
      const orders = (await call('GET', ws, '/messages?type=order.completed')).body.data as any[];
      assert.equal(orders.length, 1, `order ${i}`);
      assert.equal(orders[0].data.order.paymentId, 'UPBUY1');
    }
  });

  test("with an API token, a revoke is checked against Piano's API first", async () => {
    const ws = await workspace('confirm', { apiToken: 'piano_api_token_123' });
    let active = true;
    pianoApi.answer = (path, params) =>
      path === '/publisher/user/access/list'
        ? {
            code: 0,
            total: 1,
            accesses: [{ access_id: 'ACC9', granted: true, revoked: !active, resource: { rid: 'R9' }, expire_date: active ? E2 : E1 }],
            uid: params.get('uid'),
          }
        : { code: 404, message: 'unknown' };
    const base = { version: 2, aid: AID, uid: 'reader9', rid: 'R9', access_id: 'ACC9', term_id: 'TM9' };
    await sendPiano(app.url, ws, pianoData({ ...base, type: 'access_granted', event: 'new_purchase', expires: E1 }, KEY));
    // Auto-renewal switched off: Piano says revoked/subscription_canceled, but the access still runs.
    await sendPiano(app.url, ws, pianoData({ ...base, type: 'access_revoked', event: 'subscription_canceled', expires: E1 }, KEY));
    await drained(ws);
    let [row] = (await call('GET', ws, '/access')).body.data;
    assert.equal(row.status, 'active');
    assert.equal(row.expiresAt, new Date(E2 * 1000).toISOString(), "the API's expiry");
    const asked = pianoApi.requests.filter((r) => r.path === '/publisher/user/access/list' && r.params.get('uid') === 'reader9');
    assert.ok(asked.length >= 1);
    assert.equal(asked[0]!.params.get('aid'), AID);
    assert.equal(asked[0]!.params.get('api_token'), 'piano_api_token_123');

    // Now it has really ended.
    active = false;
    await sendPiano(app.url, ws, pianoData({ ...base, type: 'access_revoked', event: 'access_ended', expires: E2 }, KEY));
    await drained(ws);
    [row] = (await call('GET', ws, '/access')).body.data;
    assert.equal(row.status, 'revoked');

    // An API error (code != 0 on HTTP 200) falls back on the event.
    pianoApi.answer = () => ({ code: 2, message: 'Access denied' });
    const ws2 = await workspace('confirm error', { apiToken: 'piano_api_token_123' });
    await sendPiano(app.url, ws2, pianoData({ ...base, type: 'access_revoked', event: 'access_revoked', expires: E1 }, KEY));
    await drained(ws2);
    assert.equal((await call('GET', ws2, '/access')).body.data[0].status, 'revoked');
    assert.deepEqual((await call('GET', ws2, '/events?status=failed')).body.data, []);
  });

  test("a rebuild after the confirmed access has run out decides as live processing did, with the API's answer of then", async () => {
    const ws = await workspace('confirm then rebuild', { apiToken: 'piano_api_token_123' });
    pianoApi.answer = (path) =>
      path === '/publisher/user/access/list'
        ? { code: 0, total: 1, accesses: [{ access_id: 'ACC8', granted: true, revoked: false, resource: { rid: 'R8' }, expire_date: E2 }] }
        : { code: 404, message: 'unknown' };
    const base = { version: 2, aid: AID, uid: 'reader8', rid: 'R8', access_id: 'ACC8', term_id: 'TM8' };
    await sendPiano(app.url, ws, pianoData({ ...base, type: 'access_granted', event: 'new_purchase', expires: E1 }, KEY));
    // Auto-renewal switched off: the API says the access still runs until E2.
    await sendPiano(app.url, ws, pianoData({ ...base, type: 'access_revoked', event: 'subscription_canceled', expires: E1 }, KEY));
    await drained(ws);
    const [row] = (await call('GET', ws, '/access')).body.data;
    assert.equal(row.status, 'active');
    assert.equal(row.expiresAt, new Date(E2 * 1000).toISOString());

    // A day after E2 the access has run out, but what Piano answered then has not changed: nothing to redo.
    const real = app.ctx.now;
    app.ctx.now = () => (E2 + 86_400) * 1000;
    try {
      const rebuild = await call('POST', ws, '/rebuild', {});
      assert.equal(rebuild.status, 200, JSON.stringify(rebuild.body));
      for (const [table, t] of Object.entries<any>(rebuild.body.tables)) assert.deepEqual(t, { added: 0, changed: 0, removed: 0 }, table);
    } finally {
      app.ctx.now = real;
    }
  });

  test("a revoke confirmed with Piano's API is judged by that access, not by another live access to the same resource", async () => {
    const ws = await workspace('confirm by id', { apiToken: 'piano_api_token_123' });
    // The user bought the resource again: the old access ended, a new one runs.
    pianoApi.answer = (path) =>
      path === '/publisher/user/access/list'
        ? {
            code: 0,
            total: 2,
            accesses: [
              { access_id: 'OLD7', granted: true, revoked: true, resource: { rid: 'R7' }, expire_date: E1 },
              { access_id: 'NEW7', granted: true, revoked: false, resource: { rid: 'R7' }, expire_date: E2 },
            ],
          }
        : { code: 404, message: 'unknown' };
    const base = { version: 2, aid: AID, uid: 'reader7', rid: 'R7', term_id: 'TM7' };
    await sendPiano(
      app.url,
      ws,
      pianoData({ ...base, access_id: 'OLD7', type: 'access_granted', event: 'new_purchase', expires: E1 }, KEY),
    );
    await sendPiano(
      app.url,
      ws,
      pianoData({ ...base, access_id: 'NEW7', type: 'access_granted', event: 'new_purchase', expires: E2 }, KEY),
    );
    await sendPiano(
      app.url,
      ws,
      pianoData({ ...base, access_id: 'OLD7', type: 'access_revoked', event: 'access_revoked', expires: E1 }, KEY),
    );
    await drained(ws);
    const rows = Object.fromEntries(((await call('GET', ws, '/access')).body.data as any[]).map((a) => [a.providerAccessId, a]));
    assert.equal(rows.OLD7.status, 'revoked', 'Piano says this access is revoked');
    assert.equal(rows.OLD7.expiresAt, new Date(E1 * 1000).toISOString());
    assert.equal(rows.NEW7.status, 'active');
  });

  test('one person across Piano and Stripe, linked by email', async () => {
    const ws = await workspace('merge');
    await call('PUT', ws, '/connections/stripe', { webhookSecrets: ['whsec_merge_test'] });
    const stripe = stripeEvent('customer.created', { id: 'cus_merge', object: 'customer', email: 'Both@Example.com', name: 'Both' });
    assert.equal((await postStripe(app.url, ws, stripe, signStripe(stripe, 'whsec_merge_test'))).status, 200);
    await sendPiano(
      app.url,
      ws,
      pianoData(
        {
          version: 2,
          type: 'access_granted',
          event: 'new_purchase',
          aid: AID,
          uid: 'pboth',
          rid: 'R1',
          access_id: 'AB1',
          user_email: 'both@example.com',
          expires: E1,
        },
        KEY,
      ),
    );
    await drained(ws);
    const detail = (await call('GET', ws, '/customers/cus_merge')).body;
    assert.deepEqual(detail.identities.map((i: any) => `${i.provider}:${i.providerId}`).sort(), ['piano:pboth', 'stripe:cus_merge']);
    assert.equal(detail.access.length, 1, "the Piano access shows on the Stripe customer's person");
    const viaPiano = (await call('GET', ws, '/customers/pboth')).body;
    assert.equal(viaPiano.personId, detail.personId);
  });

  test('the Piano proxy: 200 at once, identical data to the healthy destination, the down one catches up, also across a restart', async () => {
    const store = await createTestStore();
    let downIsUp = false;
    const healthy = await startReceiver();
    const down = await startReceiver(() => (downIsUp ? { status: 200 } : { status: 503 }));
    receivers.push(healthy, down);
    const config = { outboundAllow: LOOPBACK, retrySchedule: [0, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5] };
    let proxy = await startTestApp({ store, config });
    try {
      const ws = (await proxy.api('POST', '/api/v1/workspaces', { name: 'proxy' })).body.id;
      await proxy.api('PUT', `/api/v1/workspaces/${ws}/connections/piano`, { aid: AID, privateKey: KEY });
      const a = await proxy.api('POST', `/api/v1/workspaces/${ws}/connections/piano/forwards`, { url: `${healthy.url}/piano?site=1` });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      const b = await proxy.api('POST', `/api/v1/workspaces/${ws}/connections/piano/forwards`, { url: `${down.url}/hook` });
      assert.equal(b.status, 201);
      assert.equal(JSON.stringify(b.body).includes('whsec_'), false);

      const sent = [
        pianoData(
          { version: 2, type: 'access_granted', event: 'new_purchase', aid: AID, uid: 'p1', rid: 'R', access_id: 'X1', expires: E1 },
          KEY,
        ),
        pianoData({ version: 2, type: 'user_updated', aid: AID, uid: 'p1', timestamp: String(E1) }, KEY),
      ];
      assert.equal((await sendPiano(proxy.url, ws, sent[0]!, 'GET')).status, 200);
      assert.equal((await sendPiano(proxy.url, ws, sent[1]!, 'POST form')).status, 200);

      await waitFor(async () => healthy.requests.length === 2, 'the healthy destination has both');
      const got = healthy.requests.map((r) => ({
        method: r.method,
        data: r.method === 'GET' ? new URL(r.path, 'http://x').searchParams.get('data') : new URLSearchParams(r.body).get('data'),
      }));
      assert.deepEqual(
        got.sort((x, y) => x.method.localeCompare(y.method)),
        [
          { method: 'GET', data: sent[0] },
          { method: 'POST', data: sent[1] },
        ],
      );
      assert.equal(
        new URL(healthy.requests.find((r) => r.method === 'GET')!.path, 'http://x').searchParams.get('site'),
        '1',
        "the destination's own query is kept",
      );
      await waitFor(async () => down.requests.length >= 2, 'the down destination was tried');

      // Restart while the second destination is still down: its deliveries are rows, not memory.
      await proxy.close();
      proxy = await startTestApp({ store, config });
      downIsUp = true;
      await waitFor(
        async () =>
          (await proxy.api('GET', `/api/v1/workspaces/${ws}/endpoints/${b.body.id}/deliveries?status=succeeded`)).body.data.length === 2,
        'caught up after the restart',
        20_000,
      );
      const lastTwo = new Set(
        down.requests
          .slice(-2)
          .map((r) =>
            r.method === 'GET' ? new URL(r.path, 'http://x').searchParams.get('data') : new URLSearchParams(r.body).get('data'),
          ),
      );
      assert.deepEqual(lastTwo, new Set(sent));
      const forwards = (await proxy.api('GET', `/api/v1/workspaces/${ws}/connections/piano/forwards`)).body.data;
      assert.deepEqual(forwards.map((f: any) => f.deliveries.succeeded).sort(), [2, 2]);
      const health = (await proxy.api('GET', `/api/v1/workspaces/${ws}/health`)).body.providers.piano;
      assert.deepEqual(
        health.forwards.map((f: any) => [f.url, f.succeeded, f.pending]).sort(),
        [
          [`${down.url}/hook`, 2, 0],
          [`${healthy.url}/piano?site=1`, 2, 0],
        ].sort(),
      );
      assert.equal((await proxy.api('GET', `/api/v1/workspaces/${ws}/connections/piano`)).body.forwards, 2);
      // Through the generic endpoint API a destination keeps to Piano webhooks: another type is refused, nothing changes.
      const widened = await proxy.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${a.body.id}`, {
        eventTypes: ['piano.*', 'order.completed'],
      });
      assert.equal(widened.status, 400, JSON.stringify(widened.body));
      assert.equal(widened.body.error.field, 'eventTypes');
      assert.match(widened.body.error.message, /forwards Piano webhooks only/);
      assert.deepEqual((await proxy.api('GET', `/api/v1/workspaces/${ws}/endpoints/${a.body.id}`)).body.eventTypes, ['piano.*']);
      // No list is every type for an endpoint; for a destination, every Piano webhook and nothing else.
      const emptied = await proxy.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${a.body.id}`, { eventTypes: [] });
      assert.equal(emptied.status, 200, JSON.stringify(emptied.body));
      assert.deepEqual(emptied.body.eventTypes, ['piano.*']);
      const narrowed = await proxy.api('PATCH', `/api/v1/workspaces/${ws}/endpoints/${a.body.id}`, {
        eventTypes: ['piano.access_granted'],
      });
      assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
      assert.equal((await proxy.api('DELETE', `/api/v1/workspaces/${ws}/connections/piano/forwards/${a.body.id}`)).status, 204);
      assert.equal((await proxy.api('DELETE', `/api/v1/workspaces/${ws}/connections/piano/forwards/${a.body.id}`)).status, 404);
    } finally {
      await proxy.close();
      await store.drop();
    }
  });
});
