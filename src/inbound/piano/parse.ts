// Reading Piano payload fields: times come as unix seconds, as numbers or strings (`timestamp` is a string in
// user events, `expires` an integer); null or absent means "none" (an access without expiry is unlimited).
type Obj = Record<string, unknown>;

export function unixSeconds(v: unknown): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0) return null;
  // Some fields are in milliseconds (e.g. `built`); anything past year 5000 in seconds is taken as ms.
  return new Date(n > 1e11 ? n : n * 1000);
}

/** The event's own time, when the payload has one (user events do; access events do not). */
export function pianoEventTime(p: Obj): Date | null {
  return unixSeconds(p.timestamp) ?? unixSeconds(p.event_time) ?? unixSeconds(p.create_date);
}

export const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);
