// JSON that PostgreSQL's jsonb stores: it refuses the NUL character (\u0000) in strings and keys, and a lone
// UTF-16 surrogate (what cutting text between the two halves of an emoji leaves). Both are written as U+FFFD,
// the replacement character, as undici and Node do with bytes that are not text. Iterative (no stack limit).

// NUL must be matched on purpose: it is exactly what PostgreSQL cannot hold.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with NUL and lone surrogates replaced by U+FFFD (the same string when there are none). */
export function storableString(s: string): string {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(s) ? s.replace(UNSTORABLE, '\uFFFD') : s;
}

/** A copy of a JSON value whose strings and keys jsonb can store; the value itself when nothing needed changing. */
export function storableJson<T>(value: T): T {
  if (!needsChange(value)) return value;
  const copy = (v: unknown): unknown => {
    if (typeof v === 'string') return storableString(v);
    if (Array.isArray(v)) return v.map(copy);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[storableString(k)] = copy(x);
      return out;
    }
    return v;
  };
  return copy(value) as T;
}

function needsChange(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      UNSTORABLE.lastIndex = 0;
      if (UNSTORABLE.test(v)) return true;
    } else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        UNSTORABLE.lastIndex = 0;
        if (UNSTORABLE.test(k)) return true;
        stack.push(x);
      }
    }
  }
  return false;
}

/** The first `max` UTF-16 units of `s`, one fewer when the cut would split a surrogate pair. */
export function prefixOfText(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
