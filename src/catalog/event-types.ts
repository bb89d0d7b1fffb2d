// Every event type Sluice knows: the business events it derives (with what each means), raw provider events
// (`stripe.<type>`, `piano.<type>`), its own `sluice.test`, and the rule for a team's custom events. Filters and
// subscriptions are checked against it so a misspelt name ("subscriptoin.*") is refused with a suggestion
// instead of silently matching nothing.

export const BUSINESS_EVENTS: Record<string, string> = {
  'customer.created': 'a customer is first known',
  'customer.updated': "a customer's email, name or details changed",
  'customer.deleted': 'a customer was deleted at the provider',
  'customer.tagged': 'a workflow added tags to a customer (data.tags: the tags added)',
  'customer.untagged': 'a workflow removed tags from a customer (data.tags: the tags removed)',
  'order.completed': 'a checkout or one-off purchase is paid',
  'order.refunded': 'a payment was refunded, fully or in part',
  'payment.succeeded': 'a charge or invoice payment succeeded',
  'payment.failed': 'a charge or invoice payment failed',
  'chargeback.received': 'a payment is disputed by the card holder',
  'subscription.created': 'a subscription is first known',
  'subscription.activated': 'a subscription enters active from any non-active status',
  'subscription.renewed': 'a new billing period is paid',
  'subscription.updated': 'a subscription changed (plan, quantity, period) without another event covering it',
  'subscription.canceled': 'a cancellation first becomes known; data.endsAt says when access ends',
  'subscription.ended': 'a subscription reaches a terminal status: the moment to revoke access',
  'trial.started': 'a trial begins',
  'trial.ended': 'a subscription stops being a trial',
  'access.granted': 'an access row appears',
  'access.modified': 'an access row changes expiry or resource',
  'access.revoked': 'an access row ends',
  'incident.opened': 'Sluice opened an incident (e.g. an endpoint disabled after failing for days)',
  'incident.resolved': 'an incident was resolved',
};

export const BUSINESS_EVENT_TYPES = Object.keys(BUSINESS_EVENTS);

/** The type of `POST …/endpoints/:id/test` messages unless another is asked for. */
export const TEST_EVENT_TYPE = 'sluice.test';

export const PROVIDERS = ['stripe', 'piano'] as const;

/** Prefixes a custom event may not use: they belong to events Sluice relays or raises itself. The business
 *  types' own prefixes stay open ("order.shipped" is a fine custom type); only their exact names are taken. */
export const RESERVED_PREFIXES = ['stripe', 'piano', 'sluice', 'incident'];

/** Custom event types: lower-case dotted words, at least two, e.g. "course.enrolled". */
export const CUSTOM_TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
export const CUSTOM_TYPE_RULE =
  'lower-case letters, digits and underscores in at least two dot-separated words, e.g. "course.enrolled" (at most 200 characters)';

/** Why a custom event type cannot be used, or null when it can. */
export function customTypeProblem(type: string): string | null {
  if (type.length === 0 || type.length > 200 || !CUSTOM_TYPE.test(type)) return `type must be ${CUSTOM_TYPE_RULE}`;
  const prefix = type.split('.')[0]!;
  if (RESERVED_PREFIXES.includes(prefix)) {
    return `type ${type} uses the reserved prefix "${prefix}." (reserved: ${RESERVED_PREFIXES.map((p) => `${p}.`).join(', ')}); choose a name of your own, e.g. "course.enrolled"`;
  }
  if (BUSINESS_EVENT_TYPES.includes(type)) return `type ${type} is a business event Sluice derives itself; choose a name of your own`;
  return null;
}

function isProviderType(name: string): boolean {
  if (PROVIDERS.some((p) => name === `${p}.*`)) return true;
  return PROVIDERS.some((p) => name.startsWith(`${p}.`)) && CUSTOM_TYPE.test(name.endsWith('.*') ? name.slice(0, -2) : name);
}

export type TypeCheck = { ok: true; custom?: true } | { ok: false; suggestion: string | null };

/** First words that belong to Sluice or the providers: an unknown name under them is a mistake, not a custom type. */
const SLUICE_WORDS = new Set(['sluice', ...BUSINESS_EVENT_TYPES.map((t) => t.split('.')[0]!)]);

/**
 * Whether an event type or filter pattern is acceptable, and if not the likely intended name:
 * - known: `*`, a business type or a prefix of one (`subscription.*`), `stripe.*`/`piano.*` and any
 *   `stripe.<type>`/`piano.<type>` (Stripe adds types faster than a list could follow), `sluice.test`, and the
 *   custom types already published in the workspace (`customTypes`) or a prefix of one;
 * - refused: a name within a typo's distance of a known one ("subscriptoin.*" → "subscription.*"), or an unknown
 *   name under a business or `sluice` first word ("subscription.paused");
 * - otherwise a custom type not published yet (a team may subscribe before its first "course.enrolled").
 */
export function checkEventType(name: string, customTypes: readonly string[] = []): TypeCheck {
  if (name === '*' || isProviderType(name)) return { ok: true };
  const known = [...BUSINESS_EVENT_TYPES, TEST_EVENT_TYPE, ...customTypes];
  if (name.endsWith('.*')) {
    const stem = name.slice(0, -1);
    if (known.some((t) => t.startsWith(stem))) return { ok: true };
  } else if (known.includes(name)) return { ok: true };
  const suggestion = suggestEventType(name, known);
  // A single word ("subscription") is never a type: every type has at least two words.
  if (!name.includes('.')) return { ok: false, suggestion: suggestion ?? `${name}.*` };
  if (suggestion !== null || SLUICE_WORDS.has(name.split('.')[0]!)) return { ok: false, suggestion };
  return { ok: true, custom: true };
}

/** Every name and pattern a user could have meant, for suggestions. */
function candidates(known: readonly string[]): string[] {
  const out = new Set<string>(['*', 'stripe.*', 'piano.*']);
  for (const t of known) {
    out.add(t);
    const parts = t.split('.');
    for (let n = 1; n < parts.length; n++) out.add(`${parts.slice(0, n).join('.')}.*`);
  }
  return [...out];
}

/** The closest known name or pattern by edit distance, when close enough to be a likely typo. */
export function suggestEventType(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates(known)) {
    const d = editDistance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // Short names are close to many others by chance; a longer one can carry more typos and still be recognisable.
  const tolerance = name.length <= 8 ? 1 : name.length <= 16 ? 2 : 3;
  return best !== null && bestDistance > 0 && bestDistance <= tolerance ? best : null;
}

/** Damerau–Levenshtein (optimal string alignment): a swap of two neighbours ("oi" for "io") counts as one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
