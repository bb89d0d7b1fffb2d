// What an event is about, as keys; events that share one are worked on by one worker at a time, in order, and
// one after the other within a worker's batch.
// - The customer: a Stripe object's customer (or the customer itself, or the object when it has none), a Piano
//   event's user. The facts they publish come in the order they happened, and the events of one payment
//   (invoice.paid, charge.succeeded, payment_intent.succeeded: three objects, one customer) never run side by
//   side, where each could miss the other's uncommitted rows and both publish payment.succeeded.
// - The payment intent, invoice and charge an object names (or is): an invoice payment names no customer, only the
//   invoice and the payment it links, and must not run beside the charge or the invoice of that payment either.
// A reference may be expanded (an object with an id) or an id.
//
// The keys are computed twice, to the same result: in Node at ingest, from the payload Node has parsed already
// (stored in events.serial_keys, so that a claim never parses a body), and in SQL by the claim for the events
// stored without them (before migration 0030, or by the single-row paths). src/db/queries/event-serial-keys.test.ts
// holds the two to the same answers. Node leaves to SQL what it cannot be sure to render as PostgreSQL's `->>`
// does (a number, a boolean or an object where an id is expected).
import { payloadOf } from './event-payload.js';

/** SQL: the keys of the events row `t`, from serial_keys or else from its payload. */
export function eventSerialKeys(t: string): string {
  const ref = (field: string, of = 'o') => `COALESCE(${of}->'${field}'->>'id', ${of}->>'${field}')`;
  const own = (kind: string) => `CASE WHEN o->>'object' = '${kind}' THEN o->>'id' END`;
  // The payload is read once per row (a sub-select the planner cannot fold back in, OFFSET 0): each path written
  // against the column itself would decompress the whole payload again, and a dozen of them made a claim of 100
  // events 20 ms instead of 1.
  return `COALESCE(${t}.serial_keys, (SELECT array_remove(ARRAY[
      ${t}.workspace_id || ':' || COALESCE(${ref('customer')}, o->>'id', p->>'uid', ''),
      ${t}.workspace_id || ':pi:' || COALESCE(${ref('payment_intent')}, ${ref('payment_intent', `o->'payment'`)}, ${own('payment_intent')}),
      ${t}.workspace_id || ':in:' || COALESCE(${ref('invoice')}, ${own('invoice')}),
      ${t}.workspace_id || ':ch:' || COALESCE(${ref('charge')}, ${ref('charge', `o->'payment'`)}, ${own('charge')})], NULL)
    FROM (SELECT p->'data'->'object' AS o, p FROM (SELECT ${payloadOf(t)} AS p OFFSET 0) AS serial_payload) AS serial_object))`;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class LeftToSql extends Error {}
const LEFT_TO_SQL = new LeftToSql();

/** `->>` of a value as PostgreSQL renders it, for the values Node renders the same: absent and null give null,
 *  a string itself; anything else is left to SQL. */
function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  throw LEFT_TO_SQL;
}

/** `COALESCE(of->field->>'id', of->>field)` */
function ref(of: unknown, field: string): string | null {
  if (!isObject(of)) return null;
  const value = of[field];
  const expanded = isObject(value) ? text(value.id) : null;
  return expanded ?? text(value);
}

/**
 * The serial keys of an event in `workspaceId` with this parsed payload, as eventSerialKeys computes them in SQL; null
 * when the payload holds a value only SQL renders for sure (the claim then computes them), or a key holds the
 * character the batch insert separates keys with.
 */
export function serialKeysOf(workspaceId: string, payload: unknown): string[] | null {
  try {
    const data = isObject(payload) ? payload.data : undefined;
    const o = isObject(data) && isObject(data.object) ? data.object : undefined;
    const own = (kind: string) => (o !== undefined && text(o.object) === kind ? text(o.id) : null);
    const payment = o?.payment;
    const keys = [
      `${workspaceId}:${ref(o, 'customer') ?? (o ? text(o.id) : null) ?? (isObject(payload) ? text(payload.uid) : null) ?? ''}`,
    ];
    const pi = ref(o, 'payment_intent') ?? ref(payment, 'payment_intent') ?? own('payment_intent');
    if (pi !== null) keys.push(`${workspaceId}:pi:${pi}`);
    const invoice = ref(o, 'invoice') ?? own('invoice');
    if (invoice !== null) keys.push(`${workspaceId}:in:${invoice}`);
    const charge = ref(o, 'charge') ?? ref(payment, 'charge') ?? own('charge');
    if (charge !== null) keys.push(`${workspaceId}:ch:${charge}`);
    return keys.some((k) => k.includes(SERIAL_KEY_SEPARATOR)) ? null : keys;
  } catch (err) {
    if (err === LEFT_TO_SQL) return null;
    throw err;
  }
}

/** Between the keys of one event in the batch insert's text parameter: a control character no id carries. */
export const SERIAL_KEY_SEPARATOR = '\u0001';
