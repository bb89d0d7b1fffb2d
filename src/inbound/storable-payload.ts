// What PostgreSQL's jsonb refuses although JSON allows it. A validly signed event with such content must
// still be kept and acknowledged (a 500 would make the provider retry for days), so ingest checks first and
// stores these events as failed with the reason this module names. Pure; walks iteratively, because the
// payloads worth refusing are exactly those too deep for recursion.

/** Deeper than any real provider payload (Stripe's are under 20 levels) and well below jsonb's own limit,
 *  which depends on the server's max_stack_depth. */
export const MAX_PAYLOAD_DEPTH = 1000;

// NUL must be matched on purpose here: it is exactly what PostgreSQL text cannot hold.
// eslint-disable-next-line no-control-regex
const UNSTORABLE_CHAR = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be a jsonb string or a text column value, or undefined when it can. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains the NUL character (\\u0000), which PostgreSQL text cannot hold';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (e.g. \\ud800), which is not a Unicode character';
  return undefined;
}

/** A text value made storable: NUL and lone surrogates written as their JSON escapes, so it stays readable and
 *  deterministic (it is used for ids and types, which dedupe and filtering rely on). */
export function storableText(s: string): string {
  if (textProblem(s) === undefined) return s;
  return s.replace(UNSTORABLE_CHAR, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(storableText(key))}]`;
}

/**
 * The first reason PostgreSQL would refuse this parsed JSON as jsonb, with where it is (`$.data.object.name`),
 * or undefined when it can be stored. Paths are cut short: they are shown to users, not parsed.
 */
export function findUnstorable(payload: unknown): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: payload, path: '$', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    const where = path.length > 120 ? `${path.slice(0, 117)}…` : path;
    if (depth > MAX_PAYLOAD_DEPTH) return `the JSON is nested more than ${MAX_PAYLOAD_DEPTH} levels deep (at ${where})`;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) return `a string ${problem} (at ${where})`;
    } else if (typeof value === 'number') {
      // JSON.parse turns 1e400 into Infinity, which would be stored as null: refuse rather than change the data.
      if (!Number.isFinite(value)) return `a number is too large to represent (at ${where})`;
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push({ value: v, path: pathOf(path, i), depth: depth + 1 }));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const problem = textProblem(k);
        if (problem) return `a key ${problem} (at ${where})`;
        stack.push({ value: v, path: pathOf(path, k), depth: depth + 1 });
      }
    }
  }
  return undefined;
}

// PostgreSQL's timestamptz range is 4713 BC to 294276 AD; anything outside JavaScript's Date is refused too.
const MAX_TIMESTAMP_MS = Date.UTC(294276, 0, 1);
const MIN_TIMESTAMP_MS = Date.UTC(-4712, 0, 1);

/** A provider's unix-seconds timestamp as a Date PostgreSQL can hold, or undefined. */
export function storableTime(unixSeconds: number): Date | undefined {
  const ms = unixSeconds * 1000;
  if (!Number.isFinite(ms) || ms > MAX_TIMESTAMP_MS || ms < MIN_TIMESTAMP_MS) return undefined;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as text when that text is exactly these bytes (valid UTF-8, no NUL); undefined otherwise. */
export function exactText(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// A \u escape PostgreSQL's jsonb may refuse: NUL, or a UTF-16 surrogate (refused when unpaired; paired ones are
// rare in provider payloads and simply take the careful path).
const RISKY_ESCAPE = /\\u(0000|[dD][89a-fA-F])/;

/**
 * Whether JSON text (already known to parse) can be handed to PostgreSQL as jsonb exactly as it is, with no
 * walk over the parsed value: no escape jsonb refuses, and fewer opening brackets than the depth limit (so it
 * cannot be nested deeper than that). False does not mean unstorable, only that findUnstorable must decide.
 */
export function isPlainJsonText(text: string): boolean {
  if (text.includes('\\u') && RISKY_ESCAPE.test(text)) return false;
  // indexOf jumps between brackets natively: a provider payload has tens of them in kilobytes of text.
  let openers = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1; i = text.indexOf(bracket, i + 1)) {
      if (++openers > MAX_PAYLOAD_DEPTH) return false;
    }
  }
  return true;
}
