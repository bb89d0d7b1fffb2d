// The parity check, row by row against the status table of docs/parity.md, with the clock injected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCustomer, subscriptionGrant, type AccessState, type CustomerState, type SubscriptionState } from './check.js';
import { DEFAULT_POLICY, type ParityPolicy } from './policy.js';

const NOW = new Date('2026-03-15T12:00:00Z');
const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);

function sub(over: Partial<SubscriptionState> = {}): SubscriptionState {
  return {
    id: 'sub_1',
    provider: 'stripe',
    providerId: 'sub_S1',
    status: 'active',
    items: [{ price: 'price_pro', product: 'prod_pro', lookupKey: 'pro_monthly' }],
    currentPeriodStart: days(-10),
    currentPeriodEnd: days(20),
    trialEnd: null,
    cancelAt: null,
    pauseCollection: null,
    ...over,
  };
}

function row(over: Partial<AccessState> = {}): AccessState {
  return { id: 'acc_1', provider: 'app', resource: 'pro', status: 'active', expiresAt: null, ...over };
}

function state(over: Partial<CustomerState> = {}): CustomerState {
  return {
    customer: { id: 'cus_1', provider: 'stripe', providerId: 'cus_S1' },
    subscriptions: [],
    access: [],
    invoices: [],
    refundedCharges: [],
    events: [],
    ...over,
  };
}

const APP_PRO: ParityPolicy = {
  ...DEFAULT_POLICY,
  accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: ['app'] }],
};

const kinds = (s: CustomerState, p: ParityPolicy = APP_PRO, now = NOW) =>
  checkCustomer(s, p, now)
    .findings.map((f) => `${f.kind}${f.key ? `:${f.key}` : ''}`)
    .sort();

// The status table: [status, extra fields, policy change, grants?]
const STATUS_TABLE: [string, Partial<SubscriptionState>, Partial<ParityPolicy>, boolean][] = [
  ['active', {}, {}, true],
  ['trialing', {}, {}, true],
  ['incomplete', {}, {}, false],
  ['incomplete_expired', {}, {}, false],
  ['unpaid', {}, {}, false],
  ['canceled', {}, {}, false],
  ['canceled', {}, { grantStatuses: ['active', 'canceled'] }, false], // terminal never grants
  ['unpaid', {}, { grantStatuses: ['active', 'unpaid'] }, true],
  ['past_due', { currentPeriodStart: days(-3) }, {}, true], // within 7 days of the failed renewal
  ['past_due', { currentPeriodStart: days(-9) }, {}, false], // past the grace
  ['past_due', { currentPeriodStart: days(-9) }, { pastDueGraceDays: 10 }, true],
  ['past_due', { currentPeriodStart: days(-3) }, { pastDueGraceDays: 0 }, false],
  ['past_due', { currentPeriodStart: null }, {}, false], // never on the status alone
  // left past_due through a renewal: the grace counts from the oldest renewal still unpaid, not the current period
  ['past_due', { currentPeriodStart: days(-3), unpaidSince: days(-33) }, {}, false],
  ['past_due', { currentPeriodStart: days(-3), unpaidSince: days(-3) }, {}, true],
  ['past_due', { currentPeriodStart: null, unpaidSince: days(-2) }, {}, true],
  ['past_due', { currentPeriodStart: days(-400) }, { grantStatuses: ['active', 'past_due'] }, false],
  ['paused', {}, {}, false],
  ['paused', {}, { pausedGrantsAccess: true }, true],
  ['active', { pauseCollection: { behavior: 'void' } }, {}, true],
  ['active', { pauseCollection: { behavior: 'void' } }, { pauseCollectionGrantsAccess: false }, false],
  ['trialing', { pauseCollection: { behavior: 'void' } }, { pauseCollectionGrantsAccess: false }, false],
  ['unpaid', { pauseCollection: { behavior: 'void' } }, { pauseCollectionGrantsAccess: true }, false],
  ['active', { deleted: true }, {}, false],
];

for (const [status, extra, policy, grants] of STATUS_TABLE) {
  test(`status table: ${status} ${JSON.stringify(extra)} ${JSON.stringify(policy)} → ${grants ? 'grants' : 'does not grant'}`, () => {
    const g = subscriptionGrant(sub({ status, ...extra }), { ...DEFAULT_POLICY, ...policy }, NOW);
    assert.equal(g.grants, grants, g.rule);
    // The same answer drives the findings: a granting subscription with no access is access_missing, a
    // non-granting one with access is access_unpaid.
    const p = { ...APP_PRO, ...policy };
    if (grants) assert.deepEqual(kinds(state({ subscriptions: [sub({ status, ...extra })] }), p), ['access_missing:pro']);
    else assert.deepEqual(kinds(state({ subscriptions: [sub({ status, ...extra })], access: [row()] }), p), ['access_unpaid:pro']);
  });
}

test('past_due rule names the days and the grace', () => {
  const g = subscriptionGrant(sub({ status: 'past_due', currentPeriodStart: days(-9) }), DEFAULT_POLICY, NOW);
  assert.equal(g.rule, 'past_due for 9 days > pastDueGraceDays 7');
  const within = subscriptionGrant(sub({ status: 'past_due', currentPeriodStart: days(-2) }), DEFAULT_POLICY, NOW);
  assert.equal(within.boundary?.toISOString(), days(5).toISOString());
});

test('Piano subscriptions: active grants until its end; ended or canceled does not', () => {
  const piano = (over: Partial<SubscriptionState>) => sub({ provider: 'piano', items: [{ rid: 'R1' }], ...over });
  assert.equal(subscriptionGrant(piano({ status: 'active' }), DEFAULT_POLICY, NOW).grants, true);
  assert.equal(subscriptionGrant(piano({ status: 'past_due' }), DEFAULT_POLICY, NOW).grants, true);
  assert.equal(subscriptionGrant(piano({ status: 'canceled' }), DEFAULT_POLICY, NOW).grants, false);
  assert.equal(subscriptionGrant(piano({ status: 'active', endedAt: days(-1) }), DEFAULT_POLICY, NOW).grants, false);
  assert.equal(
    subscriptionGrant(piano({ status: 'active', cancelAtPeriodEnd: true, currentPeriodEnd: days(-1) }), DEFAULT_POLICY, NOW).grants,
    false,
  );
  assert.equal(
    subscriptionGrant(piano({ status: 'active', cancelAtPeriodEnd: true, currentPeriodEnd: days(1) }), DEFAULT_POLICY, NOW).grants,
    true,
  );
});

test('paid and given: no finding; the key report says why', () => {
  const r = checkCustomer(state({ subscriptions: [sub()], access: [row()] }), APP_PRO, NOW);
  assert.deepEqual(r.findings, []);
  const pro = r.keys.find((k) => k.key === 'pro')!;
  assert.equal(pro.expected, true);
  assert.equal(pro.actual, true);
  assert.deepEqual(pro.sources, ['app']);
  assert.match(pro.rule, /status active is in grantStatuses/);
});

test('access_missing carries expected, actual, rule and evidence', () => {
  const [f] = checkCustomer(state({ subscriptions: [sub()] }), APP_PRO, NOW).findings;
  assert.equal(f?.kind, 'access_missing');
  assert.equal(f?.key, 'pro');
  assert.equal(f?.subject, 'cus_1');
  assert.match(f!.expected, /access to pro \(paid by sub_S1\)/);
  assert.equal(f?.actual, 'no active access row from app');
  assert.match(f!.rule, /status active is in grantStatuses; key pro has sources app/);
  assert.deepEqual(f?.evidence, { subscriptionIds: ['sub_1'], accessIds: [], eventIds: [] });
});

test('matching: by price, by product, by price lookup_key; unmatched items take their product as the key', () => {
  const byPrice: ParityPolicy = { ...DEFAULT_POLICY, accessMap: [{ match: { price: 'price_pro' }, key: 'pro', sources: ['app'] }] };
  const byLookup: ParityPolicy = { ...DEFAULT_POLICY, accessMap: [{ match: { lookupKey: 'pro_monthly' }, key: 'pro', sources: ['app'] }] };
  assert.deepEqual(kinds(state({ subscriptions: [sub()] }), byPrice), ['access_missing:pro']);
  assert.deepEqual(kinds(state({ subscriptions: [sub()] }), byLookup), ['access_missing:pro']);
  // No entry: the key is the product id, which has no source: not checked at all.
  const r = checkCustomer(state({ subscriptions: [sub()] }), DEFAULT_POLICY, NOW);
  assert.deepEqual(r.findings, []);
  assert.equal(r.keys[0]?.key, 'prod_pro');
  assert.equal(r.keys[0]?.checked, false);
});

test('a key with an entry but no sources is not checked', () => {
  const none: ParityPolicy = { ...DEFAULT_POLICY, accessMap: [{ match: { product: 'prod_pro' }, key: 'pro', sources: [] }] };
  assert.deepEqual(kinds(state({ subscriptions: [sub()] }), none), []);
  assert.deepEqual(kinds(state({ access: [row()] }), none), []);
});

test('rows of a source the key does not list do not count; sluice repair rows always do', () => {
  assert.deepEqual(kinds(state({ subscriptions: [sub()], access: [row({ provider: 'workflows' })] })), ['access_missing:pro']);
  assert.deepEqual(kinds(state({ subscriptions: [sub()], access: [row({ provider: 'sluice' })] })), []);
});

test('access_unpaid: app access with no subscription at all', () => {
  const [f] = checkCustomer(state({ access: [row()] }), APP_PRO, NOW).findings;
  assert.equal(f?.kind, 'access_unpaid');
  assert.equal(f?.expected, 'no access to pro: no subscription for it');
  assert.deepEqual(f?.evidence.accessIds, ['acc_1']);
});

test('access_unpaid after a canceled subscription; a second, granting subscription pays', () => {
  assert.deepEqual(kinds(state({ subscriptions: [sub({ status: 'canceled' })], access: [row()] })), ['access_unpaid:pro']);
  assert.deepEqual(
    kinds(state({ subscriptions: [sub({ status: 'canceled' }), sub({ id: 'sub_2', providerId: 'sub_S2' })], access: [row()] })),
    [],
  );
});

test('duplicate_subscription: two granting subscriptions for one key (checked or not)', () => {
  const two = [sub(), sub({ id: 'sub_2', providerId: 'sub_S2' })];
  assert.deepEqual(kinds(state({ subscriptions: two, access: [row()] })), ['duplicate_subscription:pro']);
  assert.deepEqual(kinds(state({ subscriptions: two }), DEFAULT_POLICY), ['duplicate_subscription:prod_pro']);
  // One granting and one canceled is not a duplicate.
  assert.deepEqual(kinds(state({ subscriptions: [sub(), sub({ id: 'sub_2', status: 'canceled' })], access: [row()] })), []);
});

test('entitlement_drift: a trial that ended into paused keeps its entitlement', () => {
  const paused = sub({ status: 'paused', trialEnd: days(-1) });
  const entitlement = row({ provider: 'stripe', resource: 'pro_feature' });
  const [f, ...rest] = checkCustomer(state({ subscriptions: [paused], access: [entitlement] }), DEFAULT_POLICY, NOW).findings;
  assert.equal(rest.length, 0);
  assert.equal(f?.kind, 'entitlement_drift');
  assert.equal(f?.key, 'pro_feature');
  assert.equal(f?.rule, 'paused, and pausedGrantsAccess is false');
  assert.match(f!.actual, /Stripe entitlement pro_feature active/);
  // The policy lets paused grant: no drift.
  assert.deepEqual(kinds(state({ subscriptions: [paused], access: [entitlement] }), { ...DEFAULT_POLICY, pausedGrantsAccess: true }), []);
});

test('an entitlement with no entry is paid by any granting Stripe subscription; with none it is unpaid', () => {
  const entitlement = row({ provider: 'stripe', resource: 'feat_x' });
  assert.deepEqual(kinds(state({ subscriptions: [sub()], access: [entitlement] }), DEFAULT_POLICY), []);
  assert.deepEqual(kinds(state({ access: [entitlement] }), DEFAULT_POLICY), ['access_unpaid:feat_x']);
  assert.deepEqual(kinds(state({ subscriptions: [sub({ status: 'canceled' })], access: [entitlement] }), DEFAULT_POLICY), [
    'access_unpaid:feat_x',
  ]);
  // Two subscriptions of unknown features are not duplicates of the entitlement.
  assert.deepEqual(
    kinds(state({ subscriptions: [sub(), sub({ id: 'sub_2', items: [{ product: 'prod_b' }] })], access: [entitlement] }), DEFAULT_POLICY),
    [],
  );
});

test('an expected key whose only source is stripe_entitlements and has no entitlement is entitlement_drift', () => {
  const p: ParityPolicy = {
    ...DEFAULT_POLICY,
    accessMap: [
      { match: { product: 'prod_pro' }, key: 'pro', sources: ['stripe_entitlements'] },
      { match: { lookupKey: 'pro_feature' }, key: 'pro', sources: ['stripe_entitlements'] },
    ],
  };
  assert.deepEqual(kinds(state({ subscriptions: [sub()] }), p), ['entitlement_drift:pro']);
  assert.deepEqual(kinds(state({ subscriptions: [sub()], access: [row({ provider: 'stripe', resource: 'pro_feature' })] }), p), []);
});

test('Piano: a free access without a subscription is no finding; a non-granting Piano subscription makes it unpaid', () => {
  const access = row({ provider: 'piano', resource: 'R1', expiresAt: days(30) });
  const piano = (status: string) => sub({ provider: 'piano', providerId: 'piano_sub', items: [{ rid: 'R1' }], status });
  assert.deepEqual(kinds(state({ access: [access] }), DEFAULT_POLICY), []);
  assert.deepEqual(kinds(state({ subscriptions: [piano('active')], access: [access] }), DEFAULT_POLICY), []);
  assert.deepEqual(kinds(state({ subscriptions: [piano('canceled')], access: [access] }), DEFAULT_POLICY), ['access_unpaid:R1']);
  assert.deepEqual(kinds(state({ subscriptions: [piano('active')] }), DEFAULT_POLICY), ['access_missing:R1']);
  // A Stripe subscription says nothing about a Piano key.
  assert.deepEqual(kinds(state({ subscriptions: [sub({ status: 'canceled' })], access: [access] }), DEFAULT_POLICY), []);
});

test('Piano rid mapped to a key of several sources', () => {
  const p: ParityPolicy = { ...DEFAULT_POLICY, accessMap: [{ match: { rid: 'R1' }, key: 'premium', sources: ['piano', 'app'] }] };
  const piano = sub({ provider: 'piano', items: [{ rid: 'R1' }] });
  assert.deepEqual(kinds(state({ subscriptions: [piano], access: [row({ provider: 'piano', resource: 'R1' })] }), p), []);
  assert.deepEqual(kinds(state({ subscriptions: [piano], access: [row({ provider: 'app', resource: 'premium' })] }), p), []);
  assert.deepEqual(kinds(state({ subscriptions: [piano] }), p), ['access_missing:premium']);
});

test('access_expired: an active row past its expiry; it gives nothing', () => {
  const r = checkCustomer(state({ subscriptions: [sub()], access: [row({ expiresAt: days(-1) })] }), APP_PRO, NOW);
  assert.deepEqual(r.findings.map((f) => f.kind).sort(), ['access_expired', 'access_missing']);
  const expired = r.findings.find((f) => f.kind === 'access_expired')!;
  assert.deepEqual(expired.evidence.accessIds, ['acc_1']);
  // Expired rows of an unchecked key are still a finding (the sweep will expire them).
  assert.deepEqual(kinds(state({ access: [row({ resource: 'other', expiresAt: days(-1) })] })), ['access_expired:other']);
});

test('refunded_but_active: the last paid invoice refunded in full, nothing else pays', () => {
  const base = {
    subscriptions: [sub()],
    access: [row()],
    invoices: [{ providerId: 'in_1', subscriptionProviderId: 'sub_S1', amountPaid: 1000 }],
  };
  const full = { id: 'pay_1', providerId: 'ch_1', invoiceProviderId: 'in_1', amount: 1000, amountRefunded: 1000 };
  const [f] = checkCustomer(state({ ...base, refundedCharges: [full] }), APP_PRO, NOW).findings;
  assert.equal(f?.kind, 'refunded_but_active');
  assert.match(f!.rule, /charge ch_1 refunded in full/);
  // Partly refunded: still paid.
  assert.deepEqual(kinds(state({ ...base, refundedCharges: [{ ...full, amountRefunded: 300 }] })), []);
  // Another granting subscription pays for the key.
  assert.deepEqual(kinds(state({ ...base, subscriptions: [sub(), sub({ id: 'sub_2', providerId: 'sub_S2' })], refundedCharges: [full] })), [
    'duplicate_subscription:pro',
  ]);
  // Refunded and no access: nothing is missing.
  assert.deepEqual(kinds(state({ ...base, access: [], refundedCharges: [full] })), []);
});

test('stuck_event: failed, or unprocessed past stuckEventMinutes; a younger one sets the next check', () => {
  const ev = (id: string, status: string, minutesAgo: number) => ({
    id,
    type: 'customer.subscription.updated',
    status,
    receivedAt: new Date(NOW.getTime() - minutesAgo * 60_000),
  });
  const r = checkCustomer(
    state({ events: [ev('evt_a', 'failed', 1), ev('evt_b', 'received', 61), ev('evt_c', 'received', 10)] }),
    APP_PRO,
    NOW,
  );
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0]?.kind, 'stuck_event');
  assert.deepEqual(r.findings[0]?.evidence.eventIds, ['evt_a', 'evt_b']);
  assert.equal(r.nextCheckAt?.toISOString(), new Date(NOW.getTime() + 50 * 60_000).toISOString());
});

test('nextCheckAt: the earliest future boundary of live subscriptions, grace and access expiry', () => {
  const trial = sub({ status: 'trialing', trialEnd: days(3), currentPeriodEnd: days(3) });
  assert.equal(checkCustomer(state({ subscriptions: [trial] }), DEFAULT_POLICY, NOW).nextCheckAt?.toISOString(), days(3).toISOString());
  const pastDue = sub({ status: 'past_due', currentPeriodStart: days(-2), currentPeriodEnd: days(28) });
  assert.equal(checkCustomer(state({ subscriptions: [pastDue] }), DEFAULT_POLICY, NOW).nextCheckAt?.toISOString(), days(5).toISOString());
  const cancelAt = sub({ cancelAt: days(1) });
  assert.equal(checkCustomer(state({ subscriptions: [cancelAt] }), DEFAULT_POLICY, NOW).nextCheckAt?.toISOString(), days(1).toISOString());
  const expiring = row({ expiresAt: days(2) });
  assert.equal(
    checkCustomer(state({ subscriptions: [sub()], access: [expiring] }), APP_PRO, NOW).nextCheckAt?.toISOString(),
    days(2).toISOString(),
  );
  // A canceled subscription's dates are no boundary; past ones neither.
  assert.equal(
    checkCustomer(state({ subscriptions: [sub({ status: 'canceled', currentPeriodEnd: days(5) })] }), DEFAULT_POLICY, NOW).nextCheckAt,
    null,
  );
  assert.equal(checkCustomer(state({ subscriptions: [sub({ currentPeriodEnd: days(-1) })] }), DEFAULT_POLICY, NOW).nextCheckAt, null);
});

test('time moves the answer: the same state before and after the grace ends', () => {
  const s = state({ subscriptions: [sub({ status: 'past_due', currentPeriodStart: days(-5) })], access: [row()] });
  assert.deepEqual(kinds(s, APP_PRO, NOW), []);
  assert.deepEqual(kinds(s, APP_PRO, days(3)), ['access_unpaid:pro']);
});

test('non-active rows are ignored', () => {
  assert.deepEqual(kinds(state({ access: [row({ status: 'revoked' }), row({ id: 'acc_2', status: 'expired' })] })), []);
});
