// Text searches with LIKE/ILIKE: a user's `%` or `_` is a character to find, not a wildcard.

/** `%value%` for ILIKE, with the value's pattern characters (and the escape character) escaped. */
export function containsPattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
