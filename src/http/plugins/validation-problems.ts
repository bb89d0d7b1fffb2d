// Turns the validator's raw errors into problems a person can act on: one per field, with a JSON pointer into the
// request (`/body/name`, `/querystring/limit`) and a sentence instead of a schema keyword. The validator reports
// every error (not only the first), and a union reports each branch; those echoes are folded into one problem.
import { PATTERN_MESSAGES } from '../schemas/common.js';

export interface Problem {
  path: string;
  message: string;
}

interface RawError {
  keyword?: string;
  instancePath?: string;
  schemaPath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

const names = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

function sentence(e: RawError): string {
  const p = e.params ?? {};
  switch (e.keyword) {
    case 'enum':
      return `must be one of ${names(p.allowedValues ?? p.allowed).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'pattern':
      return PATTERN_MESSAGES.get(String(p.pattern)) ?? `must match the pattern ${String(p.pattern)}`;
    case 'format':
      return p.format === 'date-time' ? 'must be an ISO 8601 date-time' : `must be a valid ${String(p.format)}`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`;
    case 'maximum':
      return `must be at most ${String(p.limit)}`;
    case 'minimum':
      return `must be at least ${String(p.limit)}`;
    case 'maxItems':
      return `must have at most ${String(p.limit)} items`;
    case 'minItems':
      return `must have at least ${String(p.limit)} items`;
    case 'type':
      return `must be ${names(p.type).join(' or ') || (e.message ?? 'of another type').replace(/^must be /, '')}`.replace(
        /^must be must be /,
        'must be ',
      );
    default:
      return e.message ?? 'is not valid';
  }
}

/** Whether the value had the type of one of the union's branches and failed on something inside it. */
function passedTypeCheck(union: RawError, errors: readonly RawError[]): boolean {
  return errors.some(
    (b) =>
      b !== union &&
      b.schemaPath?.startsWith(`${union.schemaPath}/`) &&
      (b.keyword !== 'type' || (b.instancePath ?? '') !== (union.instancePath ?? '')),
  );
}

/** `context` is where the value came from: body, querystring, params or headers. */
export function toProblems(errors: readonly RawError[], context: string | undefined): Problem[] {
  const base = `/${context ?? 'body'}`;
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const out: Problem[] = [];
  for (const e of errors) {
    const at = `${base}${e.instancePath ?? ''}`;
    // `additionalProperties: false` is also reported as a failed `false` schema at the extra field.
    if (e.keyword === 'boolean' && e.schemaPath?.endsWith('additionalProperties')) continue;
    // A failed union reports each branch's error too; the union's own problem below says it once. But when the
    // value has a branch's type and fails inside it (a body object with a wrong field, where the other branch
    // is null), that branch's errors are the problems, and "must be null" from the other branch is noise.
    if (
      unions.some(
        (u) =>
          u !== e &&
          u.instancePath === e.instancePath &&
          e.schemaPath?.startsWith(`${u.schemaPath}/`) &&
          (e.keyword === 'type' || !passedTypeCheck(u, errors)),
      )
    )
      continue;
    if (e.keyword === 'required' || e.params?.missingProperty !== undefined) {
      for (const name of names(e.params?.requiredProperties ?? e.params?.missingProperty))
        out.push({ path: `${at}/${name}`, message: 'is required' });
    } else if (e.keyword === 'additionalProperties') {
      for (const name of names(e.params?.additionalProperties ?? e.params?.additionalProperty)) {
        out.push({ path: `${at}/${name}`, message: 'is not a known field' });
      }
    } else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      if (passedTypeCheck(e, errors)) continue;
      const branches = errors.filter((b) => b !== e && b.instancePath === e.instancePath && b.schemaPath?.startsWith(`${e.schemaPath}/`));
      const shapes = [...new Set(branches.map((b) => sentence(b).replace(/^must be /, '')))];
      out.push({ path: at, message: shapes.length > 0 ? `must be ${shapes.join(', or ')}` : 'does not match any allowed shape' });
    } else {
      out.push({ path: at, message: sentence(e) });
    }
  }
  const seen = new Set<string>();
  return out.filter((p) => {
    const key = `${p.path}\u0001${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function summarize(problems: readonly Problem[]): string {
  const listed = problems.map((p) => `${p.path} ${p.message}`).join('; ');
  return problems.length === 1 ? `invalid request: ${listed}` : `invalid request (${problems.length} problems): ${listed}`;
}
