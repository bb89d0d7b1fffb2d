// Templates: `{{ expr }}` inside the JSON string values of a step, each expr a CEL value expression.
//
// - A string that is exactly one `{{ … }}` (spaces around it allowed) takes the expression's value with its
//   type: `"{{ event.amount }}"` renders the number 1200, `"{{ customer.tags }}"` a list.
// - Any other string with `{{ … }}` in it renders to a string: strings are inserted as they are, numbers and
//   booleans as their JSON text, null as nothing, lists and maps as compact JSON.
// - Object keys are never templates; only values are.
// - To write `{{` literally, write it as a CEL string: `{{ "{{" }}`. Inside `{{ … }}`, `}}` within a quoted
//   CEL string does not end the expression. A `}}` outside any `{{` is literal text.
// - Everything is compiled once (compileTemplate); render() walks the value and evaluates. Limits: at most
//   maxExpressions `{{ }}` per template, and maxRenderedBytes of rendered JSON.
import { compileExpression, ExpressionError, type CompiledExpression, type ExpressionReferences } from './expression.js';

export const TEMPLATE_LIMITS = {
  maxExpressions: 200,
  /** Approximate size of the rendered JSON of one template (a step's input). */
  maxRenderedBytes: 256 * 1024,
} as const;

export interface PathProblem {
  path: string;
  message: string;
}

/** One `{{ }}` found in a template, where it sits and what it reads. */
export interface TemplateExpression {
  path: string;
  source: string;
  references: ExpressionReferences;
}

type Part = { text: string } | { expr: CompiledExpression };
type Node =
  | { kind: 'literal'; value: unknown }
  | { kind: 'typed'; path: string; expr: CompiledExpression }
  | { kind: 'text'; path: string; parts: Part[] }
  | { kind: 'list'; items: Node[] }
  | { kind: 'object'; entries: [string, Node][] };

export type RenderResult = { ok: true; value: unknown } | { ok: false; problem: PathProblem };

export interface CompiledTemplate {
  /** Every `{{ }}` in the template, in document order. */
  expressions: TemplateExpression[];
  render(context: object): RenderResult;
}

export type TemplateCompileResult = { ok: true; template: CompiledTemplate } | { ok: false; problems: PathProblem[] };

/** Joins a path the way problems show it: `body.items[2].name`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  const safe = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
  return base === '' ? safe : `${base}.${safe}`;
}

type Segment = { text: string } | { source: string; offset: number };

/** Splits a string into text and `{{ }}` sources. Returns a message when a `{{` is never closed. */
export function splitTemplate(s: string): Segment[] | string {
  const out: Segment[] = [];
  let text = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('{{', i)) {
      const end = findClose(s, i + 2);
      if (end < 0) return `"{{" at character ${i + 1} is never closed with "}}" (to write "{{" literally, write {{ "{{" }})`;
      if (text) out.push({ text });
      text = '';
      out.push({ source: s.slice(i + 2, end), offset: i + 2 });
      i = end + 2;
    } else {
      text += s[i];
      i++;
    }
  }
  if (text) out.push({ text });
  return out;
}

/** The index of the `}}` that closes an expression starting at `from`, skipping quoted CEL strings. */
function findClose(s: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '}' && s[i + 1] === '}') return i;
  }
  return -1;
}

export function compileTemplate(value: unknown, basePath = ''): TemplateCompileResult {
  const problems: PathProblem[] = [];
  const expressions: TemplateExpression[] = [];

  const compileOne = (source: string, path: string): CompiledExpression | null => {
    if (expressions.length >= TEMPLATE_LIMITS.maxExpressions) {
      if (expressions.length === TEMPLATE_LIMITS.maxExpressions) {
        problems.push({ path, message: `more than ${TEMPLATE_LIMITS.maxExpressions} {{ }} expressions in one step` });
        expressions.push({ path, source, references: { roots: [], steps: [], secrets: [] } });
      }
      return null;
    }
    const c = compileExpression(source.trim(), { kind: 'value' });
    expressions.push({ path, source: source.trim(), references: c.ok ? c.references : { roots: [], steps: [], secrets: [] } });
    if (!c.ok) {
      problems.push({ path, message: `in {{ ${source.trim()} }}: ${c.problem.message}` });
      return null;
    }
    return c;
  };

  const build = (v: unknown, path: string): Node => {
    if (typeof v === 'string') {
      if (!v.includes('{{')) return { kind: 'literal', value: v };
      const segments = splitTemplate(v);
      if (typeof segments === 'string') {
        problems.push({ path, message: segments });
        return { kind: 'literal', value: v };
      }
      const exprs = segments.filter((s): s is { source: string; offset: number } => 'source' in s);
      const onlyText = segments.every((s) => 'source' in s || s.text.trim() === '');
      if (exprs.length === 1 && onlyText) {
        const expr = compileOne(exprs[0]!.source, path);
        return expr ? { kind: 'typed', path, expr } : { kind: 'literal', value: v };
      }
      const parts: Part[] = [];
      for (const s of segments) {
        if ('text' in s) parts.push({ text: s.text });
        else {
          const expr = compileOne(s.source, path);
          if (expr) parts.push({ expr });
        }
      }
      return { kind: 'text', path, parts };
    }
    if (Array.isArray(v)) return { kind: 'list', items: v.map((x, i) => build(x, joinPath(path, i))) };
    if (typeof v === 'object' && v !== null) {
      return { kind: 'object', entries: Object.entries(v).map(([k, x]) => [k, build(x, joinPath(path, k))] as [string, Node]) };
    }
    return { kind: 'literal', value: v };
  };

  const root = build(value, basePath);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, template: { expressions, render: (context) => renderNode(root, context) } };
}

class RenderFailure extends Error {
  constructor(readonly problem: PathProblem) {
    super(problem.message);
  }
}

function renderNode(root: Node, context: object): RenderResult {
  let remaining = TEMPLATE_LIMITS.maxRenderedBytes;
  const spend = (v: unknown, path: string) => {
    remaining -= approximateSize(v);
    if (remaining < 0) {
      throw new RenderFailure({ path, message: `the rendered value is larger than ${TEMPLATE_LIMITS.maxRenderedBytes} bytes` });
    }
  };
  const evaluate = (expr: CompiledExpression, path: string): unknown => {
    try {
      return expr.evaluate(context);
    } catch (err) {
      const message = err instanceof ExpressionError ? err.message : String(err);
      throw new RenderFailure({ path, message: `in {{ ${expr.source} }}: ${message}` });
    }
  };
  const walk = (n: Node): unknown => {
    switch (n.kind) {
      case 'literal':
        return n.value;
      case 'typed': {
        const v = evaluate(n.expr, n.path);
        spend(v, n.path);
        return v;
      }
      case 'text': {
        let s = '';
        for (const p of n.parts) s += 'text' in p ? p.text : asText(evaluate(p.expr, n.path));
        spend(s, n.path);
        return s;
      }
      case 'list':
        return n.items.map(walk);
      case 'object':
        return Object.fromEntries(n.entries.map(([k, x]) => [k, walk(x)]));
    }
  };
  try {
    return { ok: true, value: walk(root) };
  } catch (err) {
    if (err instanceof RenderFailure) return { ok: false, problem: err.problem };
    throw err;
  }
}

/** How a value reads inside text: strings as they are, null as nothing, the rest as compact JSON. */
function asText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** Bytes of JSON text, roughly; bounded work because values come from toJson's own budget. */
function approximateSize(v: unknown): number {
  if (v === null || v === undefined) return 4;
  if (typeof v === 'string') return v.length + 2;
  if (typeof v !== 'object') return 8;
  let n = 2;
  if (Array.isArray(v)) for (const x of v) n += approximateSize(x) + 1;
  else for (const [k, x] of Object.entries(v)) n += k.length + 4 + approximateSize(x);
  return n;
}
