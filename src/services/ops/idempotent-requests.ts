// Idempotency-Key (the way Stripe does it): the first request with a key runs and its successful answer is
// kept for 24 hours; the same key with the same request gets that answer again without running anything
// twice. The same key with another request is refused (422), and so is a duplicate that arrives while the
// first is still running (409). Keys are scoped per credential: the admin token and each API key have
// their own namespace.
//
// A replay repeats the answer exactly, secrets shown once included (an API key, an endpoint's whsec_), so a
// client that lost the first answer to a network failure still learns them. The answer is therefore stored
// sealed with the master key, never in clear.
import {
  claimIdempotencyKey,
  purgeExpiredIdempotencyKeys,
  releaseIdempotencyKey,
  storeIdempotentAnswer,
} from '../../db/queries/idempotency.js';
import { AppError, ConflictError } from '../../errors.js';
import type { Ctx } from '../context.js';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
// Longer than any API request runs; a claim older than this belongs to a process that died mid-request.
const LOCK_SECONDS = 120;
const PURGE_EVERY_MS = 60_000;
let lastPurgeAt = 0;
// Visible ASCII, as Stripe accepts: a UUID, a ULID, "order-1234:create".
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyClaim {
  scope: string;
  key: string;
}

export type ClaimOutcome = { claimed: IdempotencyClaim } | { replay: { status: number; body: string } };

export async function claimRequest(
  ctx: Ctx,
  input: { scope: string; key: unknown; requestHash: string; workspaceId: string | null },
): Promise<ClaimOutcome> {
  const { scope, key, requestHash } = input;
  if (typeof key !== 'string' || !KEY_FORMAT.test(key)) {
    throw new AppError('IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is typical)', 400);
  }
  // Housekeeping only (a claim takes over an expired key by itself): at most once a minute per process,
  // not a DELETE on every request.
  if (ctx.now() - lastPurgeAt >= PURGE_EVERY_MS) {
    lastPurgeAt = ctx.now();
    await purgeExpiredIdempotencyKeys(ctx.db);
  }
  const held = await claimIdempotencyKey(ctx.db, {
    scope,
    key,
    requestHash,
    workspaceId: input.workspaceId,
    lockSeconds: LOCK_SECONDS,
    ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
  });
  if (!held) return { claimed: { scope, key } };
  if (held.requestHash !== requestHash) {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used with a different request (method, path or body) in the last 24 hours; use a new key',
      422,
    );
  }
  if (held.responseStatus === null || held.responseSealed === null) {
    throw new ConflictError('IDEMPOTENCY_KEY_IN_USE', 'a request with this Idempotency-Key is still running; retry when it has answered');
  }
  return { replay: { status: held.responseStatus, body: ctx.secretBox.open(held.responseSealed) } };
}

/** Keeps a successful answer for replays; an error answer releases the key, so the client may fix the request and retry with it. */
export async function finishRequest(ctx: Ctx, claim: IdempotencyClaim, status: number, body: string): Promise<void> {
  if (status >= 200 && status < 300) await storeIdempotentAnswer(ctx.db, claim.scope, claim.key, status, ctx.secretBox.seal(body));
  else await releaseIdempotencyKey(ctx.db, claim.scope, claim.key);
}
