// The event-type filter rule, used by TypeScript here and by SQL in db/queries/messages.ts (matchesTypeSql); a
// test runs both on the same cases so they cannot drift apart. Exact names and "prefix.*", which matches
// "prefix.anything" at any depth; an empty filter, or "*", matches every type.
export const EVENT_TYPE_PATTERN = /^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$/;

export function matchesEventType(patterns: readonly string[], type: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}
