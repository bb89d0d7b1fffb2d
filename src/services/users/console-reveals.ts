// What the console shows once, after a form's POST: the POST keeps the value here (sealed, bound to the session)
// and redirects (303) to a GET page whose address carries only a random id; that GET takes the value, so it is
// shown once. A reload, the back button or a restored tab is a GET of the same address again: it finds nothing and
// the page says the value was shown once. Nothing is in the URL, a cookie or the log.
import { randomBytes } from 'node:crypto';
import { deleteExpiredReveals, insertReveal, takeReveal } from '../../db/queries/console-reveals.js';
import { hashToken } from '../../lib/hash.js';
import type { Ctx } from '../context.js';

/** How long a value waits for its GET: the browser asks at once; a value never fetched is not kept. */
export const REVEAL_TTL_MS = 5 * 60_000;

export interface RevealValues {
  'api-key': { key: string; name: string | null; role: string };
  'member-link': { email: string; url: string };
  'endpoint-secret': { value: string; rotated: boolean; previousExpiresAt: string | null };
}
export type RevealKind = keyof RevealValues;

const ID = /^[A-Za-z0-9_-]{43}$/;

/** Keeps a value for the session's next GET of the page `scope`; answers the id to put in that page's address. */
export async function keepForReveal<K extends RevealKind>(
  ctx: Ctx,
  sessionHash: string,
  kind: K,
  scope: string,
  value: RevealValues[K],
): Promise<string> {
  const now = ctx.now();
  // Values nobody fetched in time: few, and gone at the next one kept.
  await deleteExpiredReveals(ctx.db, new Date(now));
  const id = randomBytes(32).toString('base64url');
  await insertReveal(ctx.db, {
    idHash: hashToken(id),
    sessionHash,
    kind,
    scope,
    sealed: ctx.secretBox.seal(JSON.stringify(value)),
    expiresAt: new Date(now + REVEAL_TTL_MS),
  });
  return id;
}

/** The value kept under `id` for this session and page, once: undefined after that, after five minutes, for another
 *  session, or for an id that is not one. */
export async function takeRevealed<K extends RevealKind>(
  ctx: Ctx,
  sessionHash: string,
  kind: K,
  scope: string,
  id: unknown,
): Promise<RevealValues[K] | undefined> {
  if (typeof id !== 'string' || !ID.test(id)) return undefined;
  const sealed = await takeReveal(ctx.db, { idHash: hashToken(id), sessionHash, kind, scope, now: new Date(ctx.now()) });
  return sealed === undefined ? undefined : (JSON.parse(ctx.secretBox.open(sealed)) as RevealValues[K]);
}

/** Whether an address's `once` parameter has the form of an id (the page then says what was shown once). */
export function isRevealId(id: unknown): id is string {
  return typeof id === 'string' && ID.test(id);
}
