// Encryption of credentials at rest (provider API keys, signing secrets) with the master key.
// AES-256-GCM: the tag authenticates, so a tampered or foreign-key value fails loudly instead of
// decrypting to garbage.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';

/** The least length of a master key, as SLUICE_SECRET_KEY requires it (config.ts). */
export const MIN_MASTER_KEY_LENGTH = 32;

const VERSION = 'v1';

/** A sealed value this master key cannot open: sealed with another key, or damaged. */
export class SealedSecretUnreadable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedSecretUnreadable';
  }
}

export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** HMAC-SHA256 (base64url) under a key derived from the master key for one purpose (e.g. signing cookies). */
  mac(purpose: string, value: string): string;
}

export function createSecretBox(masterKey: string): SecretBox {
  // Any string of >= 32 characters is accepted; SHA-256 turns it into the 32-byte AES key.
  const key = createHash('sha256').update(masterKey, 'utf8').digest();
  const macKeys = new Map<string, Buffer>();
  return {
    mac(purpose, value) {
      let k = macKeys.get(purpose);
      if (!k) macKeys.set(purpose, (k = createHmac('sha256', key).update(`sluice mac key: ${purpose}`).digest()));
      return createHmac('sha256', k).update(value, 'utf8').digest('base64url');
    },
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
    },
    open(sealed) {
      const [version, payload] = sealed.split(':', 2);
      if (version !== VERSION || payload === undefined) throw new SealedSecretUnreadable('unknown sealed-secret format');
      const raw = Buffer.from(payload, 'base64');
      // setAuthTag throws on a short tag too: every failure to open is the same kind of failure.
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        throw new SealedSecretUnreadable('stored secret cannot be decrypted: the master key differs from the key it was sealed with');
      }
    },
  };
}

/** The master key: SLUICE_SECRET_KEY, else a key generated once into the data dir, readable by its owner only. A
 *  key file held to SLUICE_SECRET_KEY's rule (32 characters at least): an empty one, as `echo "$UNSET" > secret.key`
 *  writes, would seal every credential with sha256(""), a key anyone can compute. */
export function loadOrCreateMasterKey(configured: string | undefined, dataDir: string): { key: string; generated: boolean } {
  if (configured !== undefined) return { key: configured, generated: false };
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length < MIN_MASTER_KEY_LENGTH) {
      throw new AppError(
        'MASTER_KEY_FILE_INVALID',
        `${file} holds ${key.length === 0 ? 'no key' : `a key of ${key.length} characters`}; a master key has at least ${MIN_MASTER_KEY_LENGTH}. Restore the file from a backup, or set SLUICE_SECRET_KEY; on a new install with nothing stored yet, delete it and Sluice generates one`,
        500,
      );
    }
    return { key, generated: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64');
  // Durable before anything is sealed with it: a power cut must not leave an empty file behind sealed secrets.
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
  const dir = openSync(dataDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return { key, generated: true };
}
