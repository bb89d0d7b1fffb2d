// When to try a failed delivery again: the configured schedule (seconds before each attempt, the first being
// the initial try), ±20% jitter so a recovering receiver is not hit by every retry at once, and at least what
// the receiver asked for in Retry-After (capped at a day).
const MAX_RETRY_AFTER_SECONDS = 86_400;

/** Seconds until the next attempt after `attemptsMade` attempts, or null when the schedule is used up. */
export function nextAttemptDelay(
  schedule: readonly number[],
  attemptsMade: number,
  retryAfterSeconds: number | null,
  random: () => number = Math.random,
): number | null {
  if (attemptsMade >= schedule.length) return null;
  const base = schedule[attemptsMade]!;
  const jittered = Math.round(base * (0.8 + 0.4 * random()) * 1000) / 1000;
  return retryAfterSeconds === null ? jittered : Math.max(jittered, Math.min(retryAfterSeconds, MAX_RETRY_AFTER_SECONDS));
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}
