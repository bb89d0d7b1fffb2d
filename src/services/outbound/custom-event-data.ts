// What a custom event's `data` may hold: JSON that PostgreSQL's jsonb stores and receivers can parse. jsonb
// refuses the NUL character (\u0000) and has a nesting limit; a lone surrogate is not valid UTF-8 for it
// either. Checked before storing, so a bad payload is a 400 naming the problem and its path, not a 500.
import { ValidationError } from '../../errors.js';

export const MAX_DATA_DEPTH = 64;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(s: string): string | null {
  if (s.includes('\0')) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (not valid Unicode text)';
  return null;
}

/** Throws a ValidationError naming the first place where `data` cannot be stored. Iterative: no stack limit. */
export function checkCustomEventData(data: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: data, path: 'data', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const why = textProblem(value);
      if (why) throw new ValidationError(`${path} ${why}`, { field: 'data' });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_DATA_DEPTH) {
      throw new ValidationError(`data is nested deeper than ${MAX_DATA_DEPTH} levels (at ${path}); flatten it`, { field: 'data' });
    }
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: `${path}[${i}]`, depth: depth + 1 }));
    else {
      for (const [k, v] of Object.entries(value)) {
        const why = textProblem(k);
        if (why) throw new ValidationError(`a key in ${path} ${why}`, { field: 'data' });
        stack.push({ value: v, path: `${path}.${k.slice(0, 50)}`, depth: depth + 1 });
      }
    }
  }
}
