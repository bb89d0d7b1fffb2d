// Whether the CRM's row of a Stripe subscription says what Stripe's API says now: the fields the projection
// writes, compared after the same normalisation (dates as instants, JSON without key order). Pure.
import type { CrmRow } from '../../db/queries/crm.js';
import { canonicalJson } from '../../lib/canonical-json.js';
import { subscriptionValues } from './normalize.js';

type Obj = Record<string, unknown>;

function norm(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (v instanceof Date) return `"${v.toISOString()}"`;
  return canonicalJson(v);
}

/** The fields whose values differ (empty when the row matches); every field when there is no real row. */
export function subscriptionDifferences(row: CrmRow | undefined, object: Obj): string[] {
  const values = subscriptionValues(object) as Obj;
  if (!row || row.stub) return Object.keys(values);
  return Object.keys(values).filter((k) => k in row && norm(row[k]) !== norm(values[k]));
}

/**
 * Whether an answer fetched at `fetchedAtMs` may still change the row: a row written by an event of that second
 * or later is at least as new as the answer (an older answer never overwrites a newer row; the projection's
 * version guard says the same, this only spares making an event for nothing). A tombstone is final.
 */
export function answerMayApply(row: CrmRow | undefined, fetchedAtMs: number): boolean {
  if (!row || row.stub || row.source_ts == null) return true;
  if (row.deleted) return false;
  return (row.source_ts as Date).getTime() < Math.floor(fetchedAtMs / 1000) * 1000;
}
