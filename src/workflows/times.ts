// The times a step is given (a delay's `until`, an access grant's `until`), read the same way everywhere and on
// every server: an ISO 8601 date or date-time (UTC when it has no offset — JavaScript would read it in the
// server's own time zone), or unix seconds (what Stripe's timestamps are). A date that does not exist
// (2027-02-30) is refused, where JavaScript rolls it over into March. Pure.
import { impossibleDate } from '../lib/calendar.js';

const ISO = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)([Zz]|[+-]\d{2}:?\d{2})?)?$/;

const HOW = 'write an ISO 8601 time such as "2026-12-25T10:00:00Z" (UTC when no offset is given) or unix seconds';

/** The time `value` names, or why it names none. */
export function parseStepTime(value: unknown): { ok: true; date: Date } | { ok: false; message: string } {
  const shown = JSON.stringify(value) ?? String(value);
  let date: Date;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{1,12}$/.test(value))) {
    const seconds = Number(value);
    if (!Number.isInteger(seconds)) return { ok: false, message: `${shown} is not a time: unix seconds are a whole number` };
    date = new Date(seconds * 1000);
  } else if (typeof value === 'string') {
    const m = ISO.exec(value.trim());
    if (!m) return { ok: false, message: `${shown} is not a time: ${HOW}` };
    const impossible = impossibleDate(value.trim());
    if (impossible) return { ok: false, message: `${shown} is not a date that exists: ${impossible}` };
    const zone = m[3] === undefined ? 'Z' : m[3].toUpperCase() === 'Z' ? 'Z' : m[3].replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
    date = new Date(`${m[1]}T${m[2] ?? '00:00'}${zone}`);
  } else return { ok: false, message: `${shown} is not a time: ${HOW}` };
  if (Number.isNaN(date.getTime())) return { ok: false, message: `${shown} is not a time: ${HOW}` };
  // PostgreSQL's timestamps end in year 294276 and JavaScript's in 275760: nothing a step waits for is beyond 9999.
  const year = date.getUTCFullYear();
  if (year < 1970 || year > 9999) return { ok: false, message: `${shown} is not a time between the years 1970 and 9999` };
  return { ok: true, date };
}
