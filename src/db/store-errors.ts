import { StoreUnavailableError } from '../errors.js';

// SQLSTATE classes and Node socket errors that mean "the database is not there", as opposed to a bad query.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53100', '53200']);
// ENOENT: the embedded server's Unix socket is gone (server stopped).
const UNAVAILABLE_ERRNOS = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection error/i,
  /not connected/i,
  /cannot use a pool after calling end/i,
];

/** Turns a driver error that means the database is unreachable into StoreUnavailableError; others pass through. */
export function classifyDbError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (
    code.startsWith('08') ||
    UNAVAILABLE_SQLSTATES.has(code) ||
    UNAVAILABLE_ERRNOS.has(code) ||
    UNAVAILABLE_MESSAGES.some((re) => re.test(message))
  ) {
    return new StoreUnavailableError(err);
  }
  return err;
}

/** Whether the error is a lock conflict with another transaction (deadlock victim, serialization failure):
 *  nothing wrong with the work itself, which may simply run again. */
export function isLockConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}
