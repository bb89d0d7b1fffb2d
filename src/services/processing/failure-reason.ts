// What a failure means for an event: a reason a person can read (stored on the event and shown by the API)
// and whether trying again can ever help. Raw driver messages quote SQL and values; they go to the log only.

export interface FailureReason {
  reason: string;
  /** True when the same content will fail the same way on every attempt (no retry is scheduled). */
  permanent: boolean;
}

// SQLSTATE classes 22 (data exception) and 54 (program limit exceeded) are verdicts on the data itself.
const DATA_REASONS: Record<string, string> = {
  '22P05': 'it contains text PostgreSQL cannot hold (a \\u0000 escape or a character outside UTF-8)',
  '22021': 'it contains bytes that are not valid UTF-8',
  '22P02':
    'a value in it has the wrong form for its column (a number too large for an integer, or JSON PostgreSQL refuses such as a lone \\ud800 surrogate escape)',
  '22003': 'a number in it is out of range',
  '22008': 'a date or time in it is out of range',
  '22007': 'a date or time in it is not valid',
  '54001': 'it is nested too deeply',
  '54000': 'it exceeds a database size limit',
};

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function describeFailure(err: unknown): FailureReason {
  const state = sqlState(err);
  if (state !== undefined) {
    const known = DATA_REASONS[state];
    if (known) return { reason: `the database refused this event's content: ${known} (SQLSTATE ${state})`, permanent: true };
    if (state.startsWith('22') || state.startsWith('54')) {
      return { reason: `the database refused this event's content (SQLSTATE ${state})`, permanent: true };
    }
    return { reason: `a database error stopped processing (SQLSTATE ${state}); see the server log`, permanent: false };
  }
  // A RangeError is the content's doing (an invalid date such as created: 1e20, a recursion too deep for it):
  // the same input throws it again on every attempt.
  if (err instanceof RangeError) {
    // "Invalid time value" is what Date says of a timestamp beyond year 275760 (current_period_end: 1e300).
    const what = /invalid time value/i.test(err.message) ? 'a timestamp in it is out of range' : err.message;
    return { reason: `the event's content cannot be processed: ${what}`, permanent: true };
  }
  return { reason: err instanceof Error ? err.message : String(err), permanent: false };
}
