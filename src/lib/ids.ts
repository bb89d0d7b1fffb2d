// Opaque ids with a readable prefix (`ws_…`, `ev_…`). The body starts with the creation time in
// milliseconds (base32, fixed width) so ids sort by creation: list endpoints page by id alone.
import { randomBytes, randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

// Random bytes drawn from a pool refilled 4 KB at a time: one call into the CSPRNG per ~290 ids instead of one
// per id (ingest makes an id per webhook). Same source, same entropy per id.
const pool = Buffer.alloc(4096);
let poolUsed = pool.length;

function randomChars(n: number): string {
  if (poolUsed + n > pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  let out = '';
  for (let i = poolUsed; i < poolUsed + n; i++) out += ALPHABET[pool[i]! % 32]!;
  poolUsed += n;
  return out;
}

export function newId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${encodeTime(now)}${randomChars(14)}`;
}

/** A random secret token with a readable prefix, e.g. `sk_live_…`; 32 bytes of entropy. */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** The smallest id `newId(prefix, ms)` can return: every id made at or after `ms` sorts at or above it, so a
 *  time bound on id-ordered rows becomes a range on their id index. */
export function idFloor(prefix: string, ms: number): string {
  return `${prefix}_${encodeTime(Math.max(0, Math.floor(ms)))}`;
}
