// JavaScript's Date rolls an impossible date over instead of refusing it: "2027-02-30" is taken as 2 March and
// "T24:30" as the next day. Input parsers ask this first, so that such a date is an error naming it, not a
// different date stored in its place.

const DATE_PART = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/;

/** Why the calendar date (and time of day) a date-time string starts with does not exist, or undefined when it
 *  does or the string does not start with one (other checks decide about those). */
export function impossibleDate(text: string): string | undefined {
  const m = DATE_PART.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12) return `${m[1]}-${m[2]} has no month ${month}`;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > days) return `${m[1]}-${m[2]} has ${days} days, not ${day}`;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59))
    return `${m[4]}:${m[5]}${m[6] === undefined ? '' : `:${m[6]}`} is not a time of day`;
  return undefined;
}
