// The access policy of a workspace: which provider states grant access, and which access key each price,
// product, entitlement and Piano resource stands for. Pure: parsing and validation only; the defaults work
// with no setup (a key nobody configured a source for is not checked, so day one brings no flood of findings).
import { Cron } from 'croner';

export const ACCESS_SOURCES = ['stripe_entitlements', 'piano', 'workflows', 'app'] as const;
export type AccessSource = (typeof ACCESS_SOURCES)[number];

export const STRIPE_SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
] as const;

export interface AccessMatch {
  price?: string;
  product?: string;
  /** A Stripe entitlement feature's lookup_key (or a price's lookup_key). */
  lookupKey?: string;
  /** A Piano resource id. */
  rid?: string;
}

export interface AccessMapEntry {
  match: AccessMatch;
  key: string;
  /** Where actual access to this key comes from; a key with none is not checked for missing/unpaid access. */
  sources: AccessSource[];
}

export interface ParityPolicy {
  /** Stripe subscription statuses that grant access. */
  grantStatuses: string[];
  /** Days a `past_due` subscription keeps granting access (past_due can last forever: grace is time-bounded). */
  pastDueGraceDays: number;
  /** Whether a `paused` subscription (a trial that ended without a payment method) grants access. */
  pausedGrantsAccess: boolean;
  /** Whether a subscription whose collection is paused (`pause_collection`, status stays active) grants access. */
  pauseCollectionGrantsAccess: boolean;
  /** `report`: incidents only; `auto`: Sluice grants/revokes in its CRM and emits access.* events. */
  repair: 'report' | 'auto';
  accessMap: AccessMapEntry[];
  /** p95 of (received − provider created) over 15 minutes above this opens a webhook_lag incident. */
  lagThresholdSeconds: number;
  /** An event of a customer failed, or unprocessed for longer than this, is a stuck_event finding. */
  stuckEventMinutes: number;
  /** When the daily reconciliation scan runs (cron, UTC). */
  scanSchedule: string;
}

export const DEFAULT_POLICY: ParityPolicy = {
  grantStatuses: ['active', 'trialing'],
  pastDueGraceDays: 7,
  pausedGrantsAccess: false,
  pauseCollectionGrantsAccess: true,
  repair: 'report',
  accessMap: [],
  lagThresholdSeconds: 300,
  stuckEventMinutes: 60,
  scanSchedule: '0 3 * * *',
};

export type PolicyProblem = { path: string; message: string };

/** An access key: in the policy's accessMap and in the access the team's app reports (the same rule for both). */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,199}$/;
export const KEY_RULE = 'must be 1–200 letters, digits or _ . : - / (starting with a letter or digit)';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a whole policy (PUT replaces it; missing fields take their defaults). Every problem is listed, so
 * one answer tells the user all they must fix.
 */
export function parsePolicy(input: unknown): { ok: true; policy: ParityPolicy } | { ok: false; problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  if (!isObject(input)) return { ok: false, problems: [{ path: '', message: 'must be a JSON object' }] };
  const known = new Set(Object.keys(DEFAULT_POLICY));
  for (const k of Object.keys(input)) if (!known.has(k)) problems.push({ path: k, message: 'is not a policy field' });
  const policy: ParityPolicy = { ...DEFAULT_POLICY, accessMap: [] };

  if (input.grantStatuses !== undefined) {
    const v = input.grantStatuses;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
      problems.push({ path: 'grantStatuses', message: 'must be a list of statuses' });
    else {
      const unknown = v.filter((s) => !(STRIPE_SUBSCRIPTION_STATUSES as readonly string[]).includes(s as string));
      if (unknown.length)
        problems.push({
          path: 'grantStatuses',
          message: `unknown status ${unknown.join(', ')} (one of ${STRIPE_SUBSCRIPTION_STATUSES.join(', ')})`,
        });
      else policy.grantStatuses = [...new Set(v as string[])];
    }
  }
  const num = (field: 'pastDueGraceDays' | 'lagThresholdSeconds' | 'stuckEventMinutes', min: number, max: number) => {
    const v = input[field];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      problems.push({ path: field, message: `must be a number from ${min} to ${max}` });
    else policy[field] = v;
  };
  if (input.pastDueGraceDays !== undefined && typeof input.pastDueGraceDays === 'number' && !Number.isInteger(input.pastDueGraceDays))
    problems.push({ path: 'pastDueGraceDays', message: 'must be a whole number of days from 0 to 365' });
  else num('pastDueGraceDays', 0, 365);
  num('lagThresholdSeconds', 10, 7 * 86400);
  num('stuckEventMinutes', 1, 30 * 1440);
  for (const field of ['pausedGrantsAccess', 'pauseCollectionGrantsAccess'] as const) {
    const v = input[field];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') problems.push({ path: field, message: 'must be true or false' });
    else policy[field] = v;
  }
  if (input.repair !== undefined) {
    if (input.repair !== 'report' && input.repair !== 'auto') problems.push({ path: 'repair', message: 'must be "report" or "auto"' });
    else policy.repair = input.repair;
  }
  if (input.scanSchedule !== undefined) {
    const v = input.scanSchedule;
    if (typeof v !== 'string' || v.length > 100)
      problems.push({ path: 'scanSchedule', message: 'must be a cron expression such as "0 3 * * *"' });
    else {
      const problem = scheduleProblem(v);
      if (problem) problems.push({ path: 'scanSchedule', message: problem });
      else policy.scanSchedule = v;
    }
  }
  if (input.accessMap !== undefined) {
    if (!Array.isArray(input.accessMap)) problems.push({ path: 'accessMap', message: 'must be a list of {match, key, sources}' });
    else if (input.accessMap.length > 1000) problems.push({ path: 'accessMap', message: 'has more than 1000 entries' });
    else
      input.accessMap.forEach((entry: unknown, i: number) => {
        const at = `accessMap[${i}]`;
        if (!isObject(entry)) return problems.push({ path: at, message: 'must be an object {match, key, sources}' });
        const match = entry.match;
        const fields = ['price', 'product', 'lookupKey', 'rid'];
        let parsedMatch: AccessMatch | undefined;
        if (!isObject(match))
          problems.push({ path: `${at}.match`, message: 'must be an object with one of price, product, lookupKey, rid' });
        else {
          const given = Object.keys(match);
          const bad = given.filter((k) => !fields.includes(k));
          if (bad.length) problems.push({ path: `${at}.match`, message: `unknown field ${bad.join(', ')} (one of ${fields.join(', ')})` });
          else if (given.length !== 1)
            problems.push({ path: `${at}.match`, message: 'must name exactly one of price, product, lookupKey, rid' });
          else if (typeof match[given[0]!] !== 'string' || !(match[given[0]!] as string).length)
            problems.push({ path: `${at}.match.${given[0]}`, message: 'must be a non-empty string' });
          else parsedMatch = { [given[0]!]: match[given[0]!] as string };
        }
        if (typeof entry.key !== 'string' || !KEY_PATTERN.test(entry.key)) problems.push({ path: `${at}.key`, message: KEY_RULE });
        let sources: AccessSource[] = [];
        if (entry.sources !== undefined) {
          if (!Array.isArray(entry.sources))
            problems.push({ path: `${at}.sources`, message: `must be a list of ${ACCESS_SOURCES.join(', ')}` });
          else {
            const unknown = entry.sources.filter((s) => !(ACCESS_SOURCES as readonly unknown[]).includes(s));
            if (unknown.length)
              problems.push({
                path: `${at}.sources`,
                message: `unknown source ${unknown.map(String).join(', ')} (one of ${ACCESS_SOURCES.join(', ')})`,
              });
            else sources = [...new Set(entry.sources as AccessSource[])];
          }
        }
        const extra = Object.keys(entry).filter((k) => !['match', 'key', 'sources'].includes(k));
        if (extra.length) problems.push({ path: at, message: `unknown field ${extra.join(', ')}` });
        if (parsedMatch && typeof entry.key === 'string') policy.accessMap.push({ match: parsedMatch, key: entry.key, sources });
      });
  }
  // Two entries for the same match would make the key a customer is checked against depend on their order.
  const seen = new Map<string, number>();
  policy.accessMap.forEach((e, i) => {
    const id = JSON.stringify(e.match);
    if (seen.has(id)) problems.push({ path: `accessMap[${i}].match`, message: `repeats accessMap[${seen.get(id)}].match` });
    else seen.set(id, i);
  });
  return problems.length ? { ok: false, problems } : { ok: true, policy };
}

/** A stored policy (written by parsePolicy, perhaps by an older release): missing fields take their defaults. */
export function storedPolicy(stored: unknown): ParityPolicy {
  const parsed = parsePolicy(stored ?? {});
  return parsed.ok ? parsed.policy : { ...DEFAULT_POLICY };
}

/**
 * Why a scan schedule would not do, or undefined. Five fields, as documented (croner would read a sixth as seconds
 * and run an hourly-looking schedule every minute of the hour); it must run at all (`0 0 31 2 *` never does, and
 * the daily reconciliation would stop without a word); and at most hourly, since each scan reads the providers' APIs.
 */
function scheduleProblem(cron: string): string | undefined {
  if (cron.trim().split(/\s+/).length !== 5)
    return 'must have five fields (minute hour day-of-month month day-of-week), such as "0 3 * * *"';
  let runs: Date[];
  try {
    const job = new Cron(cron, { paused: true, timezone: 'UTC' });
    runs = job.nextRuns(3);
    job.stop();
  } catch (err) {
    return `is not a valid cron expression: ${(err as Error).message}`;
  }
  if (runs.length === 0) return 'never runs (no such date comes): the daily reconciliation would stop';
  for (let i = 1; i < runs.length; i++) {
    if (runs[i]!.getTime() - runs[i - 1]!.getTime() < 3_600_000)
      return "runs more often than once an hour: each scan reads the providers' APIs";
  }
  return undefined;
}
