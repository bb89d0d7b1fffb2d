// JSON as the workflow editor shows it: printed compactly enough to read (a small object or list stays on one
// line, as in the docs), the line each `path` of a validation problem points at, and JSON syntax errors with a
// line and column whatever Node's wording (it changed between versions 20 and 22).
//
// workflow-editor.js prints the same way in the browser (formatJson there mirrors formatJson here), so a trigger
// written by the picker does not reflow the rest of the definition differently.

/** Lines are at most this wide when a value fits on one; longer ones open up, one member per line. */
const WIDTH = 100;

function oneLine(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map(oneLine).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, x]) => `${JSON.stringify(k)}: ${oneLine(x)}`).join(', ')} }`;
  }
  return JSON.stringify(v) ?? 'null';
}

function format(v: unknown, indent: string, prefix: string, width: number): string {
  const flat = oneLine(v);
  if (v === null || typeof v !== 'object' || indent.length + prefix.length + flat.length <= width) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + format(x, inner, '', width)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(v as Record<string, unknown>);
  return `{\n${entries
    .map(([k, x]) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + format(x, inner, key, width);
    })
    .join(',\n')}\n${indent}}`;
}

/** `width`: the editor's is WIDTH (workflow-editor.js uses the same); narrower for JSON shown in a column. */
export function formatJson(value: unknown, width = WIDTH): string {
  return format(value, '', '', width);
}

export type PathSegment = string | number;

/** `steps[0].cases[1].headers."x-key"` → ['steps', 0, 'cases', 1, 'headers', 'x-key'] (the validation's paths:
 *  identifiers after dots, other keys as JSON strings, indexes in brackets); null when it is not such a path. */
export function splitPath(path: string): PathSegment[] | null {
  const out: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    if (out.length > 0) {
      if (path[i] === '[') {
        const m = /^\[(\d+)\]/.exec(path.slice(i));
        if (!m) return null;
        out.push(Number(m[1]));
        i += m[0].length;
        continue;
      }
      if (path[i] !== '.') return null;
      i++;
    }
    if (path[i] === '"') {
      let j = i + 1;
      while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
      try {
        out.push(JSON.parse(path.slice(i, j + 1)) as string);
      } catch {
        return null;
      }
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path.slice(i));
    if (!m) return null;
    out.push(m[0]);
    i += m[0].length;
  }
  return out;
}

const keyOf = (segments: readonly PathSegment[]) => JSON.stringify(segments);

/**
 * The line (1-based) where each value of a JSON text starts, by path; an object member's line is its key's.
 * The text must be valid JSON (parse it first): this only walks it.
 */
export function pathLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let i = 0;
  let line = 1;
  const space = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === '\n') line++;
      else if (c !== ' ' && c !== '\t' && c !== '\r') return;
      i++;
    }
  };
  const string = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: PathSegment[]): void => {
    space();
    if (!out.has(keyOf(path))) out.set(keyOf(path), line);
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        space();
        if (c === '{') {
          const keyLine = line;
          const member = [...path, string()];
          if (!out.has(keyOf(member))) out.set(keyOf(member), keyLine);
          space();
          i++; // the colon
          value(member);
        } else {
          value([...path, n]);
        }
        space();
        if (text[i++] !== ',') return;
      }
    }
    if (c === '"') string();
    else while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
  };
  value([]);
  return out;
}

/** The line a problem's path points at: the value itself, or (a missing field) the nearest enclosing one that
 *  exists; undefined for the definition as a whole or a path that is not one. */
export function lineOfPath(lines: Map<string, number>, path: string): { line: number; exact: boolean } | undefined {
  const segments = splitPath(path);
  if (!segments || segments.length === 0) return undefined;
  for (let n = segments.length; n > 0; n--) {
    const line = lines.get(keyOf(segments.slice(0, n)));
    if (line !== undefined) return { line, exact: n === segments.length };
  }
  return undefined;
}

const NUMBER_OR_WORD = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** Where the first syntax error of a JSON text is (V8 does not always say: "Unexpected token '}', … is not valid
 *  JSON"); -1 when there is none. */
export function syntaxErrorAt(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw new RangeError(String(i));
  };
  const space = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c < ' ') fail();
      i += c === '\\' ? 2 : 1;
    }
    fail();
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        space();
        if (text[i] === ',') i++;
        else if (text[i] === close) return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    NUMBER_OR_WORD.lastIndex = i;
    if (!NUMBER_OR_WORD.test(text)) fail();
    i = NUMBER_OR_WORD.lastIndex;
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return -1;
  } catch (err) {
    if (err instanceof RangeError) return Number(err.message);
    throw err;
  }
}

/** JSON.parse, with a syntax error as a sentence that says where (line and column), the same on every Node. */
export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; message: string; line?: number } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    if (text.trim() === '') return { ok: false, message: 'the definition is empty: write a JSON object {name, trigger, steps}' };
    const raw = err instanceof Error ? err.message : String(err);
    const reason = raw
      .replace(/, ".*" is not valid JSON$/s, '')
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/\s*in JSON at position \d+/, '');
    let pos = syntaxErrorAt(text);
    if (pos < 0) pos = Number(/at position (\d+)/.exec(raw)?.[1] ?? 0);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - before.lastIndexOf('\n');
    return { ok: false, message: `not valid JSON at line ${line}, column ${column}: ${reason}`, line };
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object with `first` keys in that order, then the others as they come, then `last`. */
function ordered(o: Obj, first: readonly string[], last: readonly string[] = []): Obj {
  const out: Obj = {};
  for (const k of first) if (k in o) out[k] = o[k];
  for (const k of Object.keys(o)) if (!first.includes(k) && !last.includes(k)) out[k] = o[k];
  for (const k of last) if (k in o) out[k] = o[k];
  return out;
}

/** The fields of a step's input in the order the docs write them (http: method, url, headers, query, body). */
const INPUT_ORDER = [
  'method',
  'url',
  'webhook',
  'to',
  'subject',
  'headers',
  'query',
  'type',
  'resource',
  'add',
  'remove',
  'body',
  'text',
  'content',
];

/** A step's rendered input (as stored, keys in jsonb's order) with its fields in the order of the definition. */
export function readableInput(input: unknown): unknown {
  return isObj(input) ? ordered(input, INPUT_ORDER) : input;
}

function readableSteps(list: unknown): unknown {
  if (!Array.isArray(list)) return list;
  return list.map((raw) => {
    if (!isObj(raw)) return raw;
    const s = ordered(raw, ['id', 'kind', 'if', 'on', ...INPUT_ORDER], ['cases', 'default', 'steps', 'else', 'retry', 'onError']);
    if (Array.isArray(s.cases)) s.cases = s.cases.map((c) => (isObj(c) ? { ...ordered(c, ['when']), steps: readableSteps(c.steps) } : c));
    for (const k of ['default', 'steps', 'else']) if (k in s) s[k] = readableSteps(s[k]);
    if (isObj(s.retry)) s.retry = ordered(s.retry, ['max', 'backoff']);
    return s;
  });
}

/**
 * A stored definition with its keys in the order a person writes them (name, trigger, steps; a step's id and kind
 * first): PostgreSQL's jsonb keeps objects with their keys sorted by length, which reads as `"id", "url", "body",
 * "kind"`. Values, and the keys inside them (a body, headers), are left as they are.
 */
export function readableDefinition(d: { name?: unknown; trigger?: unknown; steps?: unknown }): Obj {
  return {
    name: d.name,
    trigger: isObj(d.trigger) ? ordered(d.trigger, ['source', 'object', 'actions', 'type', 'if']) : d.trigger,
    steps: readableSteps(d.steps),
  };
}
