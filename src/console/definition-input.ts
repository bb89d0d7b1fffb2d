// The definition editor's text on its way to the save service: parsed (a syntax error is a problem with its line),
// saved by the same service verb the API calls, and a refused save (422 VALIDATION_FAILED) turned into the
// problems shown next to the editor, each with the line its path points at. Nothing is saved unless the service
// accepts the whole definition.
import { AppError } from '../errors.js';
import type { EditorProblem } from './components/workflows.js';
import { lineOfPath, parseJsonText, pathLines } from './json-text.js';

export type SaveOutcome<T> = { ok: true; value: T } | { ok: false; problems: EditorProblem[] };

/** The longest definition text the editor posts (the form parser's limit is 256 KiB). */
export const MAX_DEFINITION_CHARS = 200_000;

export async function saveFromEditor<T>(text: string, save: (definition: Record<string, unknown>) => Promise<T>): Promise<SaveOutcome<T>> {
  if (text.length > MAX_DEFINITION_CHARS)
    return {
      ok: false,
      problems: [{ path: '', message: `the definition is longer than ${MAX_DEFINITION_CHARS.toLocaleString('en')} characters` }],
    };
  const parsed = parseJsonText(text);
  if (!parsed.ok) return { ok: false, problems: [{ path: '', message: parsed.message, ...(parsed.line ? { line: parsed.line } : {}) }] };
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, problems: [{ path: '', message: 'a workflow definition is a JSON object {name, trigger, steps}' }] };
  try {
    return { ok: true, value: await save(value as Record<string, unknown>) };
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500 || err.status === 404) throw err;
    const details = err.details as { problems?: { path: string; message: string }[]; field?: unknown };
    const listed = Array.isArray(details.problems)
      ? details.problems
      : [{ path: typeof details.field === 'string' ? details.field : '', message: err.message }];
    const lines = pathLines(text);
    return {
      ok: false,
      problems: listed.map((p) => {
        const at = lineOfPath(lines, p.path);
        return { path: p.path, message: p.message, ...(at ? { line: at.line, exact: at.exact } : {}) };
      }),
    };
  }
}
