// Small validators shared by the verbs: each returns the clean value or throws a ValidationError that names
// the field, so a caller learns everything it got wrong about one field at once.
import { ValidationError } from '../errors.js';
import { impossibleDate } from '../lib/calendar.js';
import { notOneLineMessage } from '../lib/single-line.js';

export function asObject(input: unknown, what = 'body'): Record<string, unknown> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new ValidationError(`${what} must be a JSON object`);
  return input as Record<string, unknown>;
}

export function requiredString(obj: Record<string, unknown>, field: string, max = 200): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`${field} is required and must be a non-empty string`, { field });
  if (v.length > max) throw new ValidationError(`${field} must be at most ${max} characters`, { field });
  return v.trim();
}

export function optionalString(obj: Record<string, unknown>, field: string, max = 200): string | undefined {
  if (obj[field] === undefined || obj[field] === null) return undefined;
  return requiredString(obj, field, max);
}

/** A name shown on one line (a workspace, an API key): required, trimmed, without control characters. */
export function requiredName(obj: Record<string, unknown>, field: string, max = 200): string {
  const v = requiredString(obj, field, max);
  const wrong = notOneLineMessage(field, v);
  if (wrong) throw new ValidationError(wrong, { field });
  return v;
}

export function optionalName(obj: Record<string, unknown>, field: string, max = 200): string | undefined {
  if (obj[field] === undefined || obj[field] === null) return undefined;
  return requiredName(obj, field, max);
}

export function optionalBoolean(obj: Record<string, unknown>, field: string): boolean | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ValidationError(`${field} must be true or false`, { field });
  return v;
}

export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return 50;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new ValidationError('limit must be an integer from 1 to 500', { field: 'limit' });
  return n;
}

export function parseCursor(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^[a-z]+_[0-9a-z]{24}$/.test(raw))
    throw new ValidationError('cursor is not one this API returned', { field: 'cursor' });
  return raw;
}

export function parseTime(raw: unknown, field: string): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw new ValidationError(`${field} must be an ISO 8601 time or unix seconds`, { field });
  const impossible = impossibleDate(raw);
  if (impossible) throw new ValidationError(`${field} is not a date that exists: ${impossible}`, { field });
  const d = /^\d+$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
  if (Number.isNaN(d.getTime())) throw new ValidationError(`${field} must be an ISO 8601 time or unix seconds`, { field });
  // PostgreSQL's timestamps end in year 294276 and JavaScript's in 275760; nothing Sluice stores is outside these.
  const year = d.getUTCFullYear();
  if (year < 1970 || year > 9999) throw new ValidationError(`${field} must be a time between the years 1970 and 9999`, { field });
  return d;
}

export function oneOf<T extends string>(raw: unknown, field: string, allowed: readonly T[]): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !allowed.includes(raw as T)) {
    throw new ValidationError(`${field} must be one of ${allowed.join(', ')}`, { field });
  }
  return raw as T;
}

/** A page of rows fetched with limit+1: the extra row only says whether another page exists. */
export function page<T extends { id: string }>(rows: T[], limit: number): { data: T[]; nextCursor: string | null } {
  const data = rows.slice(0, limit);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.id : null };
}
