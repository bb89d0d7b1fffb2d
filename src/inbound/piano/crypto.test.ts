// Piano's data format against the published vectors (read in place from ../shared when present) and round trips
// with keys of every length.
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decryptPianoData, encryptPianoData } from './crypto.js';
import { verifyPianoWebhook } from './verify.js';

const VECTORS = fileURLToPath(new URL('../../../../shared/fixtures/piano/vectors.json', import.meta.url));

test(
  'the published vectors decrypt',
  { skip: existsSync(VECTORS) ? false : `${VECTORS} is absent (../shared not beside the repo)` },
  () => {
    const { vectors } = JSON.parse(readFileSync(VECTORS, 'utf8')) as { vectors: { privateKey: string; plaintext: string; data: string }[] };
    assert.ok(vectors.length >= 3);
    for (const v of vectors) {
      const r = decryptPianoData(v.data, v.privateKey);
      assert.deepEqual(r, { ok: true, plaintext: v.plaintext });
      assert.equal(encryptPianoData(v.plaintext, v.privateKey), v.data, 'and encrypt reproduces them byte for byte');
    }
  },
);

test('round trips with keys shorter than, exactly and longer than 32 characters; tampering is caught', () => {
  for (const length of [8, 20, 31, 32, 33, 40, 64]) {
    const key = randomBytes(48).toString('base64url').slice(0, length);
    const json = JSON.stringify({ version: 2, type: 'access_granted', aid: 'AID123', uid: 'u', note: 'é ✓ '.repeat(length) });
    const data = encryptPianoData(json, key);
    assert.deepEqual(decryptPianoData(data, key), { ok: true, plaintext: json }, `key length ${length}`);
    const [cipherText, mac] = data.split('~~~') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    assert.deepEqual(decryptPianoData(`${flip(cipherText, 5)}~~~${mac}`, key), { ok: false, reason: 'hmac_mismatch' });
    assert.deepEqual(decryptPianoData(`${cipherText}~~~${flip(mac, 3)}`, key), { ok: false, reason: 'hmac_mismatch' });
    assert.deepEqual(decryptPianoData(cipherText, key), { ok: false, reason: 'hmac_missing' });
    assert.equal(decryptPianoData(cipherText, key, { requireHmac: false }).ok, true);
    assert.equal(decryptPianoData(data, `${key}x`).ok, false, 'another key fails');
  }
  assert.deepEqual(decryptPianoData(undefined, 'k'), { ok: false, reason: 'missing_data' });
  assert.deepEqual(decryptPianoData('not base64!~~~x', 'k'), { ok: false, reason: 'malformed_data' });
});

test('U+FFFD is a character like any other: text holding it decrypts; bytes that are not UTF-8 do not', () => {
  const key = 'PianoReplacementCharKey0123456789abcd';
  const json = JSON.stringify({ version: 2, type: 'access_granted', aid: 'AID123', name: 'Ren\uFFFDe' });
  assert.deepEqual(decryptPianoData(encryptPianoData(json, key), key), { ok: true, plaintext: json });
  // A valid MAC over a ciphertext of bytes that are not UTF-8 (0xff never occurs in UTF-8).
  const cipher = createCipheriv('aes-256-ecb', Buffer.from(key.slice(0, 32)), null);
  const cipherText = Buffer.concat([cipher.update(Buffer.from([0x7b, 0xff, 0x7d])), cipher.final()]).toString('base64url');
  const mac = createHmac('sha256', key).update(cipherText).digest('base64url');
  assert.deepEqual(decryptPianoData(`${cipherText}~~~${mac}`, key), { ok: false, reason: 'undecryptable' });
});

test('a query string that turned "+" into spaces still verifies', () => {
  const key = 'k'.repeat(40);
  // An older sender's standard base64 (with "+" and "/"), the HMAC taken over that text.
  const standard = (plaintext: string) => {
    const cipher = createCipheriv('aes-256-ecb', Buffer.from(key.slice(0, 32)), null);
    const text = Buffer.concat([cipher.update(plaintext), cipher.final()])
      .toString('base64')
      .replace(/=+$/, '');
    return `${text}~~~${createHmac('sha256', key).update(text).digest('base64url')}`;
  };
  let data = '';
  for (let i = 0; !data.split('~~~')[0]!.includes('+') && i < 500; i++) data = standard(JSON.stringify({ aid: 'A', i }));
  assert.ok(data.includes('+'));
  assert.equal(decryptPianoData(data.replace(/\+/g, ' '), key).ok, true);
});

test('verify: JSON, aid, version 1 and 2', () => {
  const key = 'SampleKeyForPianoWebhookTests0123456789Z';
  const v2 = verifyPianoWebhook({
    data: encryptPianoData(JSON.stringify({ version: 2, type: 'access_granted', event: 'new_purchase', aid: 'AID', uid: 'u1' }), key),
    privateKey: key,
    aid: 'AID',
  });
  assert.ok(
    v2.ok && v2.event.version === 2 && v2.event.type === 'access_granted' && v2.event.event === 'new_purchase' && v2.event.uid === 'u1',
  );
  const v1 = verifyPianoWebhook({
    data: encryptPianoData(JSON.stringify({ type: 'access', aid: 'AID', uid: 'u1', expires: 1 }), key),
    privateKey: key,
    aid: 'AID',
  });
  assert.ok(v1.ok && v1.event.version === 1 && v1.event.type === 'access');
  assert.deepEqual(verifyPianoWebhook({ data: encryptPianoData('{"aid":"OTHER"}', key), privateKey: key, aid: 'AID' }), {
    ok: false,
    reason: 'aid_mismatch',
  });
  assert.deepEqual(verifyPianoWebhook({ data: encryptPianoData('not json', key), privateKey: key, aid: 'AID' }), {
    ok: false,
    reason: 'not_json',
  });
  assert.deepEqual(verifyPianoWebhook({ data: encryptPianoData('[1]', key), privateKey: key, aid: 'AID' }), {
    ok: false,
    reason: 'not_json',
  });
});
