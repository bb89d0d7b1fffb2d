// Piano's webhook `data` format (piano-notes.md §2):
//   base64url_nopad(AES-256-ECB(key32, utf8 json)) + "~~~" + base64url_nopad(HMAC-SHA256(full private key, left part))
// where key32 is the private key cut to 32 characters or right-padded with "X" to 32. ECB has no integrity of
// its own, so the HMAC is the authenticity check and it is required. Pure functions; outcomes are values.
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';

const DELIMITER = '~~~';

export type PianoFailureReason = 'missing_data' | 'malformed_data' | 'hmac_missing' | 'hmac_mismatch' | 'undecryptable' | 'not_json';

export type PianoDecryptResult = { ok: true; plaintext: string } | { ok: false; reason: PianoFailureReason };

function aesKey(privateKey: string): Buffer {
  const k = privateKey.length >= 32 ? privateKey.slice(0, 32) : privateKey.padEnd(32, 'X');
  return Buffer.from(k, 'utf8');
}

const toBase64Url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

function hmac(privateKey: string, text: string): string {
  return toBase64Url(createHmac('sha256', Buffer.from(privateKey, 'utf8')).update(text, 'utf8').digest());
}

/**
 * A query string decodes "+" as a space; Piano's alphabet is base64url (no "+"), but older senders used
 * standard base64, so spaces are turned back into "+" as Piano's own plugins do.
 */
export function normalizePianoData(data: string): string {
  return data.trim().replace(/ /g, '+');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decryptPianoData(data: string | undefined, privateKey: string, opts: { requireHmac?: boolean } = {}): PianoDecryptResult {
  if (!data) return { ok: false, reason: 'missing_data' };
  const text = normalizePianoData(data);
  const parts = text.split(DELIMITER);
  if (parts.length > 2 || !parts[0] || !/^[A-Za-z0-9_\-+/]+=*$/.test(parts[0])) return { ok: false, reason: 'malformed_data' };
  const [cipherText, mac] = parts as [string, string | undefined];
  if (mac === undefined || mac === '') {
    if (opts.requireHmac !== false) return { ok: false, reason: 'hmac_missing' };
  } else {
    const expected = Buffer.from(hmac(privateKey, cipherText));
    // One "=" at most: a 32-byte MAC in base64 ends with exactly one pad character, anything more is not a MAC.
    const given = Buffer.from(mac.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'hmac_mismatch' };
  }
  const bytes = Buffer.from(cipherText.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length === 0 || bytes.length % 16 !== 0) return { ok: false, reason: 'undecryptable' };
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-ecb', aesKey(privateKey), null);
    // Some senders add no padding block when the text is already a multiple of 16: unpad leniently below.
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(bytes), decipher.final()]);
  } catch {
    return { ok: false, reason: 'undecryptable' };
  }
  const pad = plain[plain.length - 1]!;
  if (pad >= 1 && pad <= 16 && plain.subarray(plain.length - pad).every((b) => b === pad)) plain = plain.subarray(0, plain.length - pad);
  // A wrong key decrypts to noise, which is almost never valid UTF-8 (and, when it is, not JSON). Decoded strictly:
  // U+FFFD itself is a character real data holds (a name garbled upstream), so its presence proves nothing.
  let plaintext: string;
  try {
    plaintext = strictUtf8.decode(plain);
  } catch {
    return { ok: false, reason: 'undecryptable' };
  }
  return { ok: true, plaintext };
}

/** The inverse, as Piano does it: for tests, for the CLI, and for destinations that want a fresh copy. */
export function encryptPianoData(plaintext: string, privateKey: string): string {
  const cipher = createCipheriv('aes-256-ecb', aesKey(privateKey), null);
  const cipherText = toBase64Url(Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]));
  return `${cipherText}${DELIMITER}${hmac(privateKey, cipherText)}`;
}
