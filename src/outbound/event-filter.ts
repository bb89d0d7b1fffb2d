// An endpoint's event-type filter: exact names and "prefix.*" (which matches "prefix.anything", at any depth).
// An empty filter, or "*", matches every type. The SQL fan-out in db/queries/deliveries.ts applies the same rule.
export const EVENT_TYPE_PATTERN = /^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$/;

export function matchesEventType(patterns: readonly string[], type: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}
