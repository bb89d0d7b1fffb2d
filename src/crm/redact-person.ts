// Pure: removes one person's personal data from a stored provider payload or message, keeping its shape and
// every id, so a rebuild from the redacted events projects the same rows with the personal fields empty
// instead of bringing the erased values back.
//
// Two passes in one walk:
// - objects that belong to the person (a Stripe customer with one of their ids, an object whose `customer`
//   is one of their ids, a Piano payload whose `uid` is theirs) lose their personal fields (set to null,
//   nested ones such as addresses field by field);
// - anywhere else, any string or key that contains one of their known values (email, name, phone) has that
//   value replaced, so copies in metadata, descriptions or response bodies go too.

export interface Person {
  /** Provider ids of every identity of the person (cus_…, Piano uid). */
  ids: ReadonlySet<string>;
  /** Known personal values (emails, names, phones), matched case-insensitively. */
  needles: readonly string[];
}

export const ERASED = '[erased]';

// Fields whose value is the person's own data on an object that belongs to them.
const PERSONAL_FIELDS = new Set([
  'email',
  'name',
  'phone',
  'description',
  'customer_email',
  'customer_name',
  'customer_phone',
  'receipt_email',
  'user_email',
  'first_name',
  'last_name',
  'personal_name',
  'username',
]);
// Fields whose whole content is personal (addresses, billing details, free-form metadata).
const PERSONAL_CONTAINERS = new Set([
  'address',
  'shipping',
  'billing_details',
  'customer_details',
  'customer_address',
  'customer_shipping',
  'custom_fields',
]);

function belongsTo(o: Record<string, unknown>, person: Person): boolean {
  const id = (v: unknown) => typeof v === 'string' && person.ids.has(v);
  if (o.object === 'customer' && id(o.id)) return true;
  if (id(o.customer) || id(o.uid) || id(o.user_id)) return true;
  const c = o.customer;
  return typeof c === 'object' && c !== null && id((c as Record<string, unknown>).id);
}

/** What the structured pass blanked: `fields` the person's own values (emails, names, phones), `all` also
 *  the content of addresses and the like. Free text elsewhere can then be searched for them too. */
export interface Removed {
  fields: Set<string>;
  all: Set<string>;
}

/** Every string leaf to null; the keys stay, so code reading `address.city` finds null rather than no object. */
function blank(v: unknown, removed: Set<string>[]): unknown {
  if (typeof v === 'string') {
    for (const set of removed) set.add(v);
    return null;
  }
  if (Array.isArray(v)) return v.map((x) => blank(x, removed));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, blank(x, removed)]));
  return v;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces each known value inside free text (a response excerpt, an error, a JSON string). */
export function redactText(text: string, needles: readonly string[]): string {
  let out = text;
  for (const n of needles) out = out.replace(new RegExp(escapeRegExp(n), 'gi'), ERASED);
  return out;
}

/**
 * `removed` collects the values blanked by structure, for the passes over free text. `owner` forces an object
 * to count as the person's: a Stripe event's `data.previous_attributes` has no id of its own but holds the
 * earlier values (an old email) of `data.object`.
 */
export function redactValue(value: unknown, person: Person, removed?: Removed, owner?: 'customer' | 'other'): unknown {
  if (typeof value === 'string') return redactText(value, person.needles);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, person, removed));
  if (!value || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const mine = owner !== undefined || belongsTo(o, person);
  // A customer's metadata describes the person; a subscription's or invoice's usually the deal, so those keep
  // theirs (minus any known value, by the text pass).
  const isPersonRecord = owner === 'customer' || (mine && (o.object === 'customer' || typeof o.uid === 'string'));
  const fieldSets = removed ? [removed.fields, removed.all] : [];
  const allSets = removed ? [removed.all] : [];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const key = redactText(k, person.needles);
    if (mine && PERSONAL_FIELDS.has(k) && typeof v === 'string') out[key] = blank(v, fieldSets);
    else if (mine && PERSONAL_CONTAINERS.has(k)) out[key] = blank(v, allSets);
    else if (isPersonRecord && k === 'metadata' && v && typeof v === 'object' && !Array.isArray(v)) {
      blank(v, allSets);
      out[key] = {};
    } else out[key] = redactValue(v, person, removed);
  }
  const data = o.data as Record<string, unknown> | undefined;
  if (o.object === 'event' && data && typeof data === 'object' && data.previous_attributes && typeof data.object === 'object') {
    const subject = data.object as Record<string, unknown>;
    if (belongsTo(subject, person)) {
      const prev = redactValue(data.previous_attributes, person, removed, subject.object === 'customer' ? 'customer' : 'other');
      out.data = { ...(out.data as Record<string, unknown>), previous_attributes: prev };
    }
  }
  return out;
}

/** The values worth searching for: long enough not to match unrelated text by chance. */
export function personNeedles(values: readonly (string | null | undefined)[]): string[] {
  const seen = new Set<string>();
  for (const v of values) {
    const t = v?.trim();
    if (t && t.length >= 4) seen.add(t.toLowerCase());
  }
  // Longest first: "ada@example.com" must be replaced before a shorter value it contains.
  return [...seen].sort((a, b) => b.length - a.length);
}
