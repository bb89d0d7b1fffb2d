// Workflow expressions: CEL (Common Expression Language) behind one function of ours, compileExpression(), so
// the library can be swapped without touching callers. User text is parsed by a CEL interpreter, never handed
// to JavaScript evaluation.
//
// The library is @marcbachmann/cel-js, pinned exactly in package.json. Everything specific to it stays in this
// file: its environment, its AST shape (read only to find references and to measure nesting), its error
// classes, and its value representation (integers as bigint, timestamps as Date, optionals, maps).
//
// What is bounded, and where:
// - source: at most maxSourceLength characters (compile);
// - structure: AST nodes, nesting depth, list/map literal sizes and call arguments (the library's parse limits);
// - comprehensions (all, exists, exists_one, map, filter) nest at most maxComprehensionNesting deep, and
//   cel.bind is not offered (chained binds can double a value per level) (compile);
// - regular expressions: a `matches()` pattern must be a string literal that V8's linear-time engine accepts (no
//   back-references or lookarounds, as in RE2, which CEL specifies), and the process runs every regular expression
//   that backtracks too long on that engine instead (the flags below). The library runs `matches` with a plain
//   RegExp on the event loop: `"aaaa…b".matches("^(a+)+$")` would otherwise stop the whole server for hours (compile);
// - evaluation: before running, a worst-case cost is estimated from the AST size, the comprehension nesting and
//   the longest list in the context (nodes × (longest + 1)^(nesting + 1)); above evaluationBudget the
//   evaluation is refused with a clear error instead of running (evaluate). CEL has no loops or recursion,
//   so this estimate is an upper bound on the work done;
// - result: the value handed back is converted to plain JSON with a size budget (maxResultBytes), so a value
//   built from shared references cannot expand into gigabytes on the way out (evaluate).
import { setFlagsFromString } from 'node:v8';
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';

// The `l` flag (linear-time matching) for the check below, and the same engine for any regular expression that
// backtracks excessively, which is every catastrophic case once back-references and lookarounds are refused. Both
// are read when a regular expression runs, so setting them here, before any workflow expression exists, is enough.
setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

export const EXPRESSION_LIMITS = {
  /** Characters of CEL source in one expression or one `{{ }}`. */
  maxSourceLength: 2000,
  maxAstNodes: 500,
  maxDepth: 32,
  maxListElements: 200,
  maxMapEntries: 200,
  maxCallArguments: 16,
  /** Comprehension macros inside comprehension macros: `a.exists(x, x.b.exists(y, …))` is 2. */
  maxComprehensionNesting: 2,
  /** Upper bound on the estimated worst-case steps of one evaluation. */
  evaluationBudget: 10_000_000,
  /** Approximate JSON size of one evaluation's result. */
  maxResultBytes: 1024 * 1024,
} as const;

/** The top-level names an expression can read; anything else is an unknown variable at compile time. */
export const CONTEXT_ROOTS = ['event', 'trigger', 'customer', 'steps', 'run', 'secrets'] as const;
export type ContextRoot = (typeof CONTEXT_ROOTS)[number];

export type ExpressionKind = 'condition' | 'value';

export interface SourcePosition {
  /** 0-based character offset into the expression. */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface ExpressionProblem {
  /** Stable: syntax, type, too_long, too_complex, unknown_variable, not_offered, … */
  code: string;
  /** Complete sentence, position included, fit to show a user. */
  message: string;
  position?: SourcePosition;
}

/** Thrown by evaluate(): a runtime failure of a compiled expression (a missing field, a division by zero, …). */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
  constructor(
    readonly code: string,
    message: string,
    readonly position?: SourcePosition,
  ) {
    super(message);
  }
}

export interface ExpressionReferences {
  /** Context roots read (`event`, `customer`, …). */
  roots: string[];
  /** Step ids read as `steps.<id>` or `steps['<id>']`. */
  steps: string[];
  /** Secret names read as `secrets.<name>`; `secrets` read any other way is recorded as `*`. */
  secrets: string[];
}

export interface CompiledExpression {
  ok: true;
  source: string;
  kind: ExpressionKind;
  references: ExpressionReferences;
  /** Evaluates against a context (see context.ts); returns plain JSON. Throws ExpressionError. */
  evaluate(context: object): unknown;
}

export type CompileResult = CompiledExpression | { ok: false; problem: ExpressionProblem };

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

const environment = new Environment({
  unlistedVariablesAreDyn: false,
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
  limits: {
    maxAstNodes: EXPRESSION_LIMITS.maxAstNodes,
    maxDepth: EXPRESSION_LIMITS.maxDepth,
    maxListElements: EXPRESSION_LIMITS.maxListElements,
    maxMapEntries: EXPRESSION_LIMITS.maxMapEntries,
    maxCallArguments: EXPRESSION_LIMITS.maxCallArguments,
  },
});
// `customer` is null when the event has no customer; the rest are always maps.
for (const root of CONTEXT_ROOTS) environment.registerVariable(root, root === 'customer' ? 'dyn' : 'map');

export function compileExpression(source: string, options: { kind: ExpressionKind }): CompileResult {
  const kind = options.kind;
  if (typeof source !== 'string') return fail('type', 'an expression must be a string');
  if (source.trim() === '') return fail('syntax', 'the expression is empty');
  if (source.length > EXPRESSION_LIMITS.maxSourceLength) {
    return fail('too_long', `the expression is ${source.length} characters long; the limit is ${EXPRESSION_LIMITS.maxSourceLength}`);
  }
  let parsed: ParseResult;
  try {
    parsed = environment.parse(source);
  } catch (err) {
    return { ok: false, problem: problemFromLibrary(source, err, 'syntax') };
  }
  const shape = inspect(parsed.ast);
  if (shape.bind !== null) {
    return fail('not_offered', `cel.bind is not offered in workflow expressions${at(source, shape.bind)}`, position(source, shape.bind));
  }
  if (shape.regex !== null) {
    return fail('not_offered', `${shape.regex.problem}${at(source, shape.regex.start)}`, position(source, shape.regex.start));
  }
  if (shape.nesting > EXPRESSION_LIMITS.maxComprehensionNesting) {
    return fail(
      'too_complex',
      `comprehensions (all, exists, exists_one, map, filter) nest ${shape.nesting} deep; the limit is ${EXPRESSION_LIMITS.maxComprehensionNesting}`,
    );
  }
  let checked;
  try {
    checked = parsed.check();
  } catch (err) {
    return { ok: false, problem: problemFromLibrary(source, err, 'type') };
  }
  if (!checked.valid) return { ok: false, problem: problemFromLibrary(source, checked.error, 'type') };
  if (kind === 'condition' && checked.type !== undefined && checked.type !== 'bool' && checked.type !== 'dyn') {
    return fail('type', `a condition must give true or false; this expression gives ${checked.type}`);
  }

  const evaluate = (context: object): unknown => {
    const input = celInput(context);
    const cost = shape.nodes * (input.longestList + 1) ** (shape.nesting + 1);
    if (cost > EXPRESSION_LIMITS.evaluationBudget) {
      throw new ExpressionError(
        'too_costly',
        `evaluation refused: with a list of ${input.longestList} items in the context this expression could take about ${Math.round(cost).toLocaleString('en-US')} steps (limit ${EXPRESSION_LIMITS.evaluationBudget.toLocaleString('en-US')}); nest fewer comprehensions or select a smaller list`,
      );
    }
    let value: unknown;
    try {
      value = parsed(input.value);
    } catch (err) {
      const p = problemFromLibrary(source, err, 'evaluation');
      throw new ExpressionError(p.code, p.message, p.position);
    }
    if (kind === 'condition' && typeof value !== 'boolean') {
      throw new ExpressionError('type', `a condition must give true or false; this expression gave ${describeValue(value)}`);
    }
    return toJson(value, { remaining: EXPRESSION_LIMITS.maxResultBytes });
  };
  return { ok: true, source, kind, references: shape.references, evaluate };

  function fail(code: string, message: string, pos?: SourcePosition): { ok: false; problem: ExpressionProblem } {
    return { ok: false, problem: pos ? { code, message, position: pos } : { code, message } };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The AST: references, comprehension nesting, size. The library's nodes carry `op` and `args`; args hold
// nodes, arrays of nodes, or plain values (names, literals).

interface Shape {
  nodes: number;
  nesting: number;
  bind: number | null;
  /** The first `matches()` whose pattern is refused, and why. */
  regex: { start: number; problem: string } | null;
  references: ExpressionReferences;
}

function isNode(v: unknown): v is ASTNode {
  return typeof v === 'object' && v !== null && typeof (v as { op?: unknown }).op === 'string' && 'args' in v;
}

function inspect(root: ASTNode): Shape {
  const roots = new Set<string>();
  const steps = new Set<string>();
  const secrets = new Set<string>();
  let nodes = 0;
  let nesting = 0;
  let bind: number | null = null;
  let regex: Shape['regex'] = null;

  const visit = (node: ASTNode, depth: number, parent: ASTNode | null): void => {
    nodes++;
    let inner = depth;
    if (node.op === 'rcall') {
      const [name, receiver] = node.args;
      if (COMPREHENSIONS.has(name)) inner = depth + 1;
      if (name === 'bind' && receiver.op === 'id' && receiver.args === 'cel') bind ??= node.start;
      if (name === 'matches') regex ??= refusedPattern(node);
    }
    nesting = Math.max(nesting, inner);
    if (node.op === 'id' && (CONTEXT_ROOTS as readonly string[]).includes(node.args)) {
      roots.add(node.args);
      const field = parent ? fieldOf(parent, node) : undefined;
      if (node.args === 'steps' && field !== undefined) steps.add(field);
      if (node.args === 'secrets') secrets.add(field ?? '*');
    }
    forEachChild(node.args, (child) => visit(child, inner, node));
  };
  visit(root, 0, null);
  return { nodes, nesting, bind, regex, references: { roots: [...roots], steps: [...steps], secrets: [...secrets] } };
}

/** Why the pattern of a `s.matches(pattern)` call is refused, or null when it is a literal that matches in linear time. */
function refusedPattern(call: ASTNode): { start: number; problem: string } | null {
  const pattern = (call.args as unknown[])[2];
  const literal = Array.isArray(pattern) && pattern.length === 1 && isNode(pattern[0]) ? pattern[0] : undefined;
  if (!literal || literal.op !== 'value' || typeof literal.args !== 'string') {
    return {
      start: call.start,
      problem: 'the pattern of matches() must be a string literal (a pattern taken from data could take very long to match)',
    };
  }
  try {
    // eslint-disable-next-line no-invalid-regexp -- `l` (linear time) exists once the flag set at the top of this file is on
    new RegExp(literal.args, 'l');
    return null;
  } catch (err) {
    const why = (err as Error).message.includes('linear time')
      ? 'uses back-references or lookarounds, which are not offered (as in RE2): they can take very long to match'
      : `is not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`;
    return { start: literal.start, problem: `the pattern ${JSON.stringify(literal.args)} ${why}` };
  }
}

/** The constant field a parent selects from `child`: `child.name`, `child.?name`, `child['name']`. */
function fieldOf(parent: ASTNode, child: ASTNode): string | undefined {
  if ((parent.op === '.' || parent.op === '.?') && parent.args[0] === child) return parent.args[1];
  if ((parent.op === '[]' || parent.op === '[?]') && parent.args[0] === child) {
    const key = parent.args[1];
    if (key.op === 'value' && typeof key.args === 'string') return key.args;
  }
  return undefined;
}

function forEachChild(args: unknown, fn: (child: ASTNode) => void): void {
  if (isNode(args)) fn(args);
  else if (Array.isArray(args)) for (const a of args) forEachChild(a, fn);
}

// ---------------------------------------------------------------------------------------------------------
// Errors from the library → our problems, with a position and a plain message.

function position(source: string, offset: number): SourcePosition {
  const before = source.slice(0, Math.max(0, Math.min(offset, source.length)));
  const lines = before.split('\n');
  return { offset, line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

function at(source: string, offset: number): string {
  const p = position(source, offset);
  return source.includes('\n') ? ` (line ${p.line}, column ${p.column})` : ` (column ${p.column})`;
}

interface LibraryError {
  code?: unknown;
  summary?: unknown;
  message?: unknown;
  range?: { start: number; end: number };
  name?: unknown;
}

function problemFromLibrary(source: string, err: unknown, fallbackCode: string): ExpressionProblem {
  const e = (typeof err === 'object' && err !== null ? err : {}) as LibraryError;
  const summary = typeof e.summary === 'string' ? e.summary : typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  const libCode = typeof e.code === 'string' ? e.code : '';
  const start = e.range?.start;
  const pos = typeof start === 'number' ? position(source, start) : undefined;
  const where = typeof start === 'number' ? at(source, start) : '';
  let code = fallbackCode;
  let message = summary;
  if (e.name === 'ParseError' || fallbackCode === 'syntax') {
    code = libCode === 'limit_exceeded' ? 'too_complex' : 'syntax';
    message =
      libCode === 'limit_exceeded'
        ? `the expression is too complex: ${summary.replace(/^Exceeded /, 'exceeds ')}`
        : `syntax error${where}: ${lowerFirst(summary.replace('Unexpected token: EOF', 'unexpected end of the expression'))}`;
    return pos ? { code, message, position: pos } : { code, message };
  }
  if (libCode === 'unknown_variable') {
    code = 'unknown_variable';
    const name = /Unknown variable: (\S+)/.exec(summary)?.[1] ?? '?';
    message = `unknown name "${name}"${where}; an expression can read ${CONTEXT_ROOTS.join(', ')}`;
  } else if (libCode === 'no_such_key' && e.range) {
    code = 'missing_field';
    const key = /No such key: (.*)$/.exec(summary)?.[1] ?? '?';
    const read = source.slice(e.range.start, e.range.end).replace(/^\.\??/, '');
    const owner = ownerText(source, e.range.start);
    message = owner
      ? `${owner} has no field "${key}"${where}; write has(${owner}.${read}) to test for it, or ${owner}.?${read}.orValue(…) for a default`
      : `no field "${key}"${where}`;
  } else if (libCode === 'index_out_of_bounds') {
    code = 'missing_field';
    message = `index out of range${where}: ${summary.replace(/^No such key: /, '')}`;
  } else {
    code = fallbackCode === 'type' ? 'type' : libCode || fallbackCode;
    message = `${lowerFirst(summary)}${where}`;
  }
  return pos ? { code, message, position: pos } : { code, message };
}

/** The selector chain just before `offset` (`event.data` in `event.data.missing`), for messages. */
function ownerText(source: string, offset: number): string {
  const before = source.slice(0, offset).replace(/\s*\.\??\s*$/, '');
  const m = /([A-Za-z_][A-Za-z0-9_]*(?:\.\??[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*)\s*$/.exec(before);
  return m?.[1] ?? '';
}

const lowerFirst = (s: string) => (s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s);

// ---------------------------------------------------------------------------------------------------------
// Values in and out. In: JSON whole numbers become CEL ints (Stripe amounts are whole minor units, so
// `event.amount_due > 5000` and `event.quantity + 1` work as written); other numbers stay doubles. The
// converted context is cached per context object, so a run's many expressions convert it once.

interface CelInput {
  value: Record<string, unknown>;
  longestList: number;
}

const inputs = new WeakMap<object, CelInput>();

function celInput(context: object): CelInput {
  const cached = inputs.get(context);
  if (cached) return cached;
  let longestList = 0;
  const seen = new WeakSet<object>();
  const convert = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
    if (v === undefined) return null;
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Date) return v;
    if (seen.has(v)) throw new ExpressionError('context', 'the context contains a cycle');
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        longestList = Math.max(longestList, v.length);
        return v.map(convert);
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = convert(x);
      return out;
    } finally {
      seen.delete(v);
    }
  };
  const value: Record<string, unknown> = {};
  for (const root of CONTEXT_ROOTS) value[root] = convert((context as Record<string, unknown>)[root] ?? (root === 'customer' ? null : {}));
  const result = { value, longestList };
  inputs.set(context, result);
  return result;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'bigint' || typeof v === 'number') return `the number ${String(v)}`;
  if (typeof v === 'string') return `the string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : typeof v;
}

/** A CEL value as plain JSON, within a size budget (approximate bytes of its JSON text). */
export function toJson(v: unknown, budget: { remaining: number }): unknown {
  const spend = (n: number) => {
    budget.remaining -= n;
    if (budget.remaining < 0) {
      throw new ExpressionError('too_large', `the result is larger than ${EXPRESSION_LIMITS.maxResultBytes} bytes`);
    }
  };
  spend(4);
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'string':
      spend(v.length);
      return v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    case 'object':
      break;
    default:
      return String(v);
  }
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) {
    spend(v.length * 2);
    return Buffer.from(v).toString('base64');
  }
  if (Array.isArray(v)) return v.map((x) => toJson(x, budget));
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) {
      spend(String(k).length);
      out[String(k)] = toJson(x, budget);
    }
    return out;
  }
  const o = v as Record<string, unknown> & { hasValue?: unknown; value?: unknown; seconds?: unknown; nanos?: unknown };
  // An optional (`x.?y`): its value, or null when empty.
  if (typeof o.hasValue === 'function' && typeof o.value === 'function') {
    return (o.hasValue as () => boolean)() ? toJson((o.value as () => unknown)(), budget) : null;
  }
  // A duration: protobuf JSON form, "90s", "0.5s".
  if (typeof o.seconds === 'bigint' && typeof o.nanos === 'number') return `${Number(o.seconds) + o.nanos / 1e9}s`;
  // An unsigned int.
  if (typeof o.value === 'bigint') return toJson(o.value, budget);
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return String(v);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    spend(k.length);
    out[k] = toJson(x, budget);
  }
  return out;
}
