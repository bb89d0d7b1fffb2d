// Names and descriptions are shown on one line: a page title, a table cell, a CLI table, a log line. A control
// character there (CR/LF, tab, ESC, DEL, the C1 range) or a Unicode line/paragraph separator breaks that line or,
// in a terminal, rewrites what is around it, and never means anything in a name.
const NOT_ON_ONE_LINE = /[\p{Cc}\u2028\u2029]/u;

/** Null when `value` fits on one line, else which character does not and where (1-based), e.g. "U+000A at character 5". */
export function lineBreaker(value: string): string | null {
  const m = NOT_ON_ONE_LINE.exec(value);
  if (!m) return null;
  const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `U+${code} at character ${m.index + 1}`;
}

/** The message a validation error gives for such a value, naming the field. */
export function notOneLineMessage(field: string, value: string): string | null {
  const where = lineBreaker(value);
  return where && `${field} must be one line without control characters (${where})`;
}
