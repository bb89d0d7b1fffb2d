import assert from 'node:assert/strict';
import { test } from 'node:test';
import Stripe from 'stripe';
import { verifyStripeSignature, signStripePayload } from './verify.js';

const stripe = new Stripe('sk_test_unused');
const secret = 'whsec_test_secret';
const body = Buffer.from('{"id":"evt_test_webhook","object":"event"}');
const t = 1_700_000_000;
const at = (seconds: number) => seconds * 1000;

function verify(header: string | undefined, opts: { secrets?: string[]; now?: number; rawBody?: Buffer } = {}) {
  return verifyStripeSignature({
    rawBody: opts.rawBody ?? body,
    headers: header === undefined ? {} : { 'stripe-signature': header },
    secrets: opts.secrets ?? [secret],
    now: opts.now ?? at(t + 10),
    toleranceSeconds: 300,
  });
}

test('matches the published test vector byte for byte', () => {
  // Vector from Stripe's scheme (see shared/docs/research/stripe-notes.md), also accepted by stripe@23.
  assert.equal(signStripePayload(body, t, secret).toString('hex'), 'd95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990');
  assert.deepEqual(verify(`t=${t},v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990`), {
    ok: true,
    timestamp: t,
    secretIndex: 0,
  });
});

test('accepts headers made by the official stripe SDK', () => {
  const header = stripe.webhooks.generateTestHeaderString({ payload: body.toString(), secret, timestamp: t });
  assert.equal(verify(header).ok, true);
});

test('tries every v1 against every secret (rotation), ignores v0', () => {
  const oldSig = signStripePayload(body, t, 'whsec_old_secret').toString('hex');
  const newSig = signStripePayload(body, t, secret).toString('hex');
  const header = `t=${t},v1=${oldSig},v1=${newSig},v0=deadbeef`;
  assert.deepEqual(verify(header, { secrets: ['whsec_other', secret] }), { ok: true, timestamp: t, secretIndex: 1 });
  assert.deepEqual(verify(header, { secrets: ['whsec_old_secret'] }), { ok: true, timestamp: t, secretIndex: 0 });
  assert.deepEqual(verify(`t=${t},v0=${newSig}`), { ok: false, reason: 'no_signatures' });
});

test('rejects a wrong secret and a body altered by one byte', () => {
  const header = stripe.webhooks.generateTestHeaderString({ payload: body.toString(), secret, timestamp: t });
  assert.deepEqual(verify(header, { secrets: ['whsec_wrong'] }), { ok: false, reason: 'signature_mismatch' });
  const altered = Buffer.from(body);
  altered[5] = altered[5]! ^ 0x01;
  assert.deepEqual(verify(header, { rawBody: altered }), { ok: false, reason: 'signature_mismatch' });
  // Re-serialized JSON is a different byte string: never verify parsed-and-restringified bodies.
  const reserialized = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
  assert.deepEqual(verify(header, { rawBody: reserialized }), { ok: false, reason: 'signature_mismatch' });
});

test('300 s tolerance: 300 s old passes, 301 s old fails, future timestamps pass', () => {
  const header = stripe.webhooks.generateTestHeaderString({ payload: body.toString(), secret, timestamp: t });
  assert.equal(verify(header, { now: at(t + 300) }).ok, true);
  assert.deepEqual(verify(header, { now: at(t + 301) }), { ok: false, reason: 'timestamp_outside_tolerance' });
  assert.equal(verify(header, { now: at(t - 3600) }).ok, true);
});

test('missing and malformed headers', () => {
  assert.deepEqual(verify(undefined), { ok: false, reason: 'missing_header' });
  assert.deepEqual(verify(''), { ok: false, reason: 'missing_header' });
  assert.deepEqual(verify('garbage'), { ok: false, reason: 'malformed_header' });
  assert.deepEqual(verify('v1=abc'), { ok: false, reason: 'malformed_header' });
  assert.deepEqual(verify(`t=notanumber,v1=${'a'.repeat(64)}`), { ok: false, reason: 'malformed_header' });
  assert.deepEqual(verify('v1=abcdef'), { ok: false, reason: 'malformed_header' });
  assert.deepEqual(verify(`t=${t},v1=abcdef`), { ok: false, reason: 'malformed_header' }, 'a v1 that is not a signature is malformed');
  assert.deepEqual(verify(`t=${t},v0=${'a'.repeat(64)}`), { ok: false, reason: 'no_signatures' });
  const r = verifyStripeSignature({
    rawBody: body,
    headers: { 'stripe-signature': ['a', 'b'] },
    secrets: [secret],
    now: at(t),
    toleranceSeconds: 300,
  });
  assert.deepEqual(r, { ok: false, reason: 'malformed_header' });
});
