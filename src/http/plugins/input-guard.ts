// Input no field of Sluice can hold is refused before any route runs, with a 400 that names where it was:
// PostgreSQL cannot store a NUL character in text or jsonb, rejects lone UTF-16 surrogates in jsonb, and both
// JSON.stringify and PostgreSQL's jsonb parser recurse, so a body nested thousands deep would exhaust a stack
// (a RangeError in our process, "stack depth limit exceeded" in the database). Caught here, each of these is
// a client error instead of a 500 with a stack trace in the log.
//
// Webhook bodies are raw bytes (a Buffer) and are not walked: a validly signed provider event is always stored
// and acknowledged, and what PostgreSQL cannot hold of it is dealt with by the ingest path.
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../errors.js';

/** Deepest JSON nesting accepted in an API body; real objects (Stripe's included) stay far below. */
export const MAX_JSON_DEPTH = 64;

// C0 control characters other than tab, LF and CR: never meaningful in an id, a filter or a name.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

interface Problem {
  path: string;
  message: string;
}

function textProblem(value: string, allowControls: boolean): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which no field accepts';
  if (!allowControls && CONTROL.test(value)) return 'contains a control character, which this field does not accept';
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate (invalid Unicode)';
  return undefined;
}

function checkUrlPart(where: 'params' | 'query', values: unknown, problems: Problem[]): void {
  if (!values || typeof values !== 'object') return;
  for (const [name, raw] of Object.entries(values as Record<string, unknown>)) {
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (typeof value !== 'string') continue;
      const problem = textProblem(value, false);
      if (!problem) continue;
      // '*' is the catch-all of unmatched routes: the problem is then somewhere in the path.
      const what = where === 'query' ? `query parameter ${name}` : name === '*' ? 'the path' : `path segment ${name}`;
      problems.push({ path: `/${where === 'query' ? 'querystring' : where}/${name}`, message: `${what} ${problem}` });
    }
  }
}

/** `/body/data/items/0` → `data.items[0]`, as a person reads a field; the whole body is "the body". */
function fieldName(path: string): string {
  const parts = path.split('/').slice(2);
  if (parts.length === 0) return 'the body';
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** A JSON pointer cut to its first levels: the path to a 10,000-deep value is not worth printing. */
function shortPath(path: string): string {
  const parts = path.split('/');
  return parts.length > 12 ? `${parts.slice(0, 12).join('/')}/…` : path;
}

/** Walks a parsed JSON value without recursion (its depth is what is being checked). */
export function jsonBodyProblems(body: unknown, maxDepth = MAX_JSON_DEPTH, limit = 10): Problem[] {
  const problems: Problem[] = [];
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: body, path: '/body', depth: 0 }];
  while (stack.length > 0 && problems.length < limit) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value, true);
      if (problem) problems.push({ path, message: `${fieldName(path)} ${problem}` });
      continue;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      // JSON.parse reads 1e400 as Infinity, which JSON.stringify would silently store as null.
      problems.push({ path, message: `${fieldName(path)} is a number too large to represent` });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= maxDepth) {
      problems.push({ path: shortPath(path), message: `the JSON body is nested deeper than ${maxDepth} levels` });
      break;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) stack.push({ value: value[i], path: `${path}/${i}`, depth: depth + 1 });
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      const keyProblem = textProblem(key, true);
      const childPath = `${path}/${keyProblem ? '?' : key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (keyProblem) problems.push({ path: childPath, message: `a property name in ${fieldName(path)} ${keyProblem}` });
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return problems;
}

function refuse(problems: Problem[]): ValidationError {
  // `field` names the first offending field, as the schema validation's answers do.
  const field = problems[0]!.path.split('/').slice(2).join('.') || undefined;
  return new ValidationError(problems.map((p) => p.message).join('; '), { field, problems });
}

// Callback hooks, not async ones: they run for every request, webhooks included, and an async hook costs each
// request a promise and a turn of the microtask queue for work that never waits.
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const problems: Problem[] = [];
    checkUrlPart('params', request.params, problems);
    checkUrlPart('query', request.query, problems);
    done(problems.length > 0 ? refuse(problems) : undefined);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === null || typeof request.body !== 'object' || Buffer.isBuffer(request.body)) return done();
    const problems = jsonBodyProblems(request.body);
    done(problems.length > 0 ? refuse(problems) : undefined);
  });
}
