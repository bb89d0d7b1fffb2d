// Where a secret's value occurs in a text, in the forms it comes back in (see redactSecrets in plan.ts): as stored,
// in any case, percent-encoded in whole or in part (either case of hex digits; `+` for a space), JSON-escaped
// (`\"`, `\\`, `\/`, `\u00e9`), HTML-escaped (`&amp;`, `&#34;`), with a backslash read as a slash (the URL parser
// does that in an http(s) path), and as the punycode host name a resolver is asked for.
//
// A scanner, not a regular expression: a value may be 8,192 characters, and a pattern with one alternation per
// character overflows the regex compiler's stack long before that. The text is read as it is, and decoded (each
// escape read as the character it stands for: each kind alone, then all of them); each reading is a list of units, one character each, with the
// span of the text it came from, compared without regard to case. Both are linear in the text; a search is at most
// text × value comparisons of short strings, and texts here are at most a few KiB.
import { domainToASCII } from 'node:url';

interface Reading {
  /** Each unit's character, lowercased. */
  folded: string[];
  /** The character as written (not decoded from an escape), else ''. */
  literal: string[];
  start: number[];
  end: number[];
}

const HEX2 = /^[0-9a-fA-F]{2}$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const ENTITY = /^&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});/;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const JSON_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', t: '\t' };

function push(r: Reading, ch: string, start: number, end: number, literal: boolean): void {
  r.folded.push(ch.toLowerCase());
  r.literal.push(literal ? ch : '');
  r.start.push(start);
  r.end.push(end);
}

function readAsIs(text: string): Reading {
  const r: Reading = { folded: [], literal: [], start: [], end: [] };
  for (let i = 0; i < text.length;) {
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    push(r, ch, i, i + ch.length, true);
    i += ch.length;
  }
  return r;
}

/** `%XX…` at i: one UTF-8 encoded character and the length of its escapes, or undefined. */
function percentAt(text: string, i: number): [string, number] | undefined {
  const byteAt = (k: number) => (text[k] === '%' && HEX2.test(text.slice(k + 1, k + 3)) ? parseInt(text.slice(k + 1, k + 3), 16) : -1);
  const lead = byteAt(i);
  if (lead < 0) return undefined;
  const count = lead < 0x80 ? 1 : lead >= 0xf0 && lead < 0xf8 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
  if (count === 0) return undefined;
  const bytes = [lead];
  for (let k = 1; k < count; k++) {
    const b = byteAt(i + 3 * k);
    if (b < 0x80 || b > 0xbf) return undefined;
    bytes.push(b);
  }
  const ch = Buffer.from(bytes).toString('utf8');
  return [...ch].length === 1 && ch !== '\uFFFD' ? [ch, 3 * count] : undefined;
}

/** A JSON escape at i (`\"`, `\uXXXX`, a surrogate pair as two): the character and its length, or undefined. */
function jsonEscapeAt(text: string, i: number): [string, number] | undefined {
  if (text[i] !== '\\') return undefined;
  const next = text[i + 1];
  if (next !== undefined && next in JSON_ESCAPES) return [JSON_ESCAPES[next]!, 2];
  if (next !== 'u' || !HEX4.test(text.slice(i + 2, i + 6))) return undefined;
  const unit = parseInt(text.slice(i + 2, i + 6), 16);
  if (unit >= 0xd800 && unit < 0xdc00 && text.slice(i + 6, i + 8) === '\\u' && HEX4.test(text.slice(i + 8, i + 12))) {
    const low = parseInt(text.slice(i + 8, i + 12), 16);
    if (low >= 0xdc00 && low < 0xe000) return [String.fromCharCode(unit, low), 12];
  }
  return [String.fromCharCode(unit), 6];
}

function entityAt(text: string, i: number): [string, number] | undefined {
  if (text[i] !== '&') return undefined;
  const m = ENTITY.exec(text.slice(i, i + 12));
  if (!m) return undefined;
  const name = m[1]!;
  if (name[0] !== '#') return [NAMED[name.toLowerCase()] ?? NAMED[name]!, m[0].length];
  const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
  return code <= 0x10ffff ? [String.fromCodePoint(code), m[0].length] : undefined;
}

type Decoder = (text: string, i: number) => [string, number] | undefined;

// Each kind of escape alone, and all at once: a value that holds what looks like another kind of escape (a `%41`
// in a value echoed as JSON) is read as written there.
const DECODINGS: Decoder[][] = [[percentAt], [jsonEscapeAt], [entityAt], [percentAt, jsonEscapeAt, entityAt]];

function readDecoded(text: string, decoders: Decoder[]): Reading {
  const r: Reading = { folded: [], literal: [], start: [], end: [] };
  for (let i = 0; i < text.length;) {
    let escaped: [string, number] | undefined;
    for (const decode of decoders) if ((escaped = decode(text, i))) break;
    if (escaped) {
      push(r, escaped[0], i, i + escaped[1], false);
      i += escaped[1];
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    push(r, ch, i, i + ch.length, true);
    i += ch.length;
  }
  return r;
}

/** Whether the text's unit stands for the value's character `ch` (lowercased `folded`). */
function same(r: Reading, at: number, ch: string, folded: string): boolean {
  if (r.folded[at] === folded) return true;
  const lit = r.literal[at];
  // A form writes a space as '+'; the URL parser reads a backslash in an http(s) path as a slash.
  return (lit === '+' && ch === ' ') || (lit === '/' && ch === '\\');
}

function search(r: Reading, value: string, spans: [number, number][]): void {
  const chars = [...value];
  const folded = chars.map((c) => c.toLowerCase());
  const n = r.folded.length;
  for (let i = 0; i + chars.length <= n;) {
    let k = 0;
    while (k < chars.length && same(r, i + k, chars[k]!, folded[k]!)) k++;
    if (k === chars.length) {
      spans.push([r.start[i]!, r.end[i + k - 1]!]);
      i += k;
    } else i++;
  }
}

/** The spans of `text` ([start, end)) where `value` occurs in any of its forms, in the readings given. */
function spansOf(asIs: Reading, decoded: Reading[], value: string): [number, number][] {
  const spans: [number, number][] = [];
  search(asIs, value, spans);
  for (const r of decoded) search(r, value, spans);
  // A host name: only a value that can be one, with a character outside ASCII (the URL parser would otherwise
  // percent-decode it, or stop at a slash, and yield something else).
  if (/[^\p{ASCII}]/u.test(value) && !/[\s/\\?#@:%[\]]/.test(value)) {
    const host = domainToASCII(value);
    if (host) search(asIs, host, spans);
  }
  return spans;
}

/**
 * `text` with each place where one of the values occurs, in any of its forms, replaced by that value's marker.
 * Places that overlap are one place, marked with the marker of the value found first there (the longest).
 */
export function replaceSecrets(text: string, values: readonly { value: string; marker: string }[]): string {
  if (values.length === 0 || text === '') return text;
  const asIs = readAsIs(text);
  const decoded = DECODINGS.map((decoders) => readDecoded(text, decoders));
  const spans = values.flatMap(({ value, marker }) => spansOf(asIs, decoded, value).map(([start, end]) => ({ start, end, marker })));
  if (spans.length === 0) return text;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let from = 0;
  for (const s of spans) {
    if (s.start < from) {
      // Overlaps the place just marked: the place grows to cover both.
      from = Math.max(from, s.end);
      continue;
    }
    out += text.slice(from, s.start) + s.marker;
    from = s.end;
  }
  return out + text.slice(from);
}
