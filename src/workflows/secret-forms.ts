// Where a secret's value occurs in a text, in the forms it comes back in (see redactSecrets in plan.ts): as stored,
// in any case, percent-encoded in whole or in part (either case of hex digits; `+` for a space), JSON-escaped
// (`\"`, `\\`, `\/`, `\u00e9`), HTML-escaped (`&amp;`, `&#34;`), with a backslash read as a slash (the URL parser
// does that in an http(s) path), and as the punycode host name a resolver is asked for.
//
// A scanner, not a regular expression: a value may be 8,192 characters, and a pattern with one alternation per
// character overflows the regex compiler's stack long before that. The text is read as it is, and decoded (each
// escape read as the character it stands for: each kind alone, then all of them); each reading is a list of units,
// one character each, with the span of the text it came from, compared without regard to case. Reading and
// searching are linear in the text and the value (Knuth-Morris-Pratt over the units, with `+` and space, `/` and
// backslash counted as one character, and the few places of a value holding one of those checked exactly at each
// place found), so a 1 MiB text is read in a bounded time whatever it holds: a text of `a`s searched for 8,191
// `a`s and a `b` took time in the text × the value (40 s for 256 KiB), and every character cost a few strings.
//
// A text cut short (the first 64 KiB of a longer answer) may end inside a value: its beginning there is no place of
// the value, yet must not be kept. KMP's state at a unit is the longest beginning of the value that ends there, so
// the search sees such a beginning at no extra cost; one of PARTIAL_MIN characters or more is hidden as the value.
import { domainToASCII } from 'node:url';

/** Each unit's folded character as a number (see Keys), and where in the text it came from. */
interface Reading {
  keys: Int32Array;
  /** PLUS or SLASH where the unit is that character as written (not decoded from an escape), else 0. */
  literal: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  length: number;
}

const PLUS = 1;
const SLASH = 2;
const SPACE_CP = 0x20;
const PLUS_CP = 0x2b;
const SLASH_CP = 0x2f;
const BACKSLASH_CP = 0x5c;

/** Characters compared without regard to case, as numbers: a character's lowercase form, one per distinct form. */
class Keys {
  private readonly longer = new Map<string, number>();
  of(ch: string): number {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
    const folded = ch.toLowerCase();
    const first = folded.codePointAt(0)!;
    if (folded.length === (first > 0xffff ? 2 : 1)) return first;
    // A lowercase form of more than one character ('İ' is 'i̇'): numbered past the last code point.
    let key = this.longer.get(folded);
    if (key === undefined) this.longer.set(folded, (key = 0x110000 + this.longer.size));
    return key;
  }
}

class Builder {
  private keys: Int32Array;
  private literal: Uint8Array;
  private start: Int32Array;
  private end: Int32Array;
  private n = 0;
  constructor(capacity: number) {
    this.keys = new Int32Array(capacity);
    this.literal = new Uint8Array(capacity);
    this.start = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
  }
  push(key: number, literal: number, start: number, end: number): void {
    const i = this.n++;
    this.keys[i] = key;
    this.literal[i] = literal;
    this.start[i] = start;
    this.end[i] = end;
  }
  done(): Reading {
    return { keys: this.keys, literal: this.literal, start: this.start, end: this.end, length: this.n };
  }
}

const HEX4 = /^[0-9a-fA-F]{4}$/;
const ENTITY = /^&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});/;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const JSON_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', t: '\t' };

function pushLiteral(b: Builder, keys: Keys, text: string, i: number): number {
  const cp = text.codePointAt(i)!;
  const width = cp > 0xffff ? 2 : 1;
  const literal = cp === PLUS_CP ? PLUS : cp === SLASH_CP ? SLASH : 0;
  b.push(cp < 0x80 ? (cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp) : keys.of(text.slice(i, i + width)), literal, i, i + width);
  return width;
}

function readAsIs(text: string, keys: Keys): Reading {
  const b = new Builder(text.length);
  for (let i = 0; i < text.length;) i += pushLiteral(b, keys, text, i);
  return b.done();
}

/** A hex digit's value, or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The byte `%XX` at k stands for, or -1. */
function byteAt(text: string, k: number): number {
  if (text.charCodeAt(k) !== 0x25) return -1;
  const high = hexDigit(text.charCodeAt(k + 1));
  const low = hexDigit(text.charCodeAt(k + 2));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

/** `%XX…` at i: one UTF-8 encoded character and the length of its escapes, or undefined. */
function percentAt(text: string, i: number): [string, number] | undefined {
  const lead = byteAt(text, i);
  if (lead < 0) return undefined;
  const count = lead < 0x80 ? 1 : lead >= 0xf0 && lead < 0xf8 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
  if (count === 0) return undefined;
  const bytes = [lead];
  for (let k = 1; k < count; k++) {
    const b = byteAt(text, i + 3 * k);
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

// What every escape starts with: `%`, a backslash, `&`.
const ESCAPE_START = /[%\\&]/;

type Decoder = (text: string, i: number) => [string, number] | undefined;

// Each kind of escape alone, and all at once: a value that holds what looks like another kind of escape (a `%41`
// in a value echoed as JSON) is read as written there.
const DECODINGS: Decoder[][] = [[percentAt], [jsonEscapeAt], [entityAt], [percentAt, jsonEscapeAt, entityAt]];

/** The text with its escapes decoded by `decoders`, or null where it holds none (it reads as it is). */
function readDecoded(text: string, decoders: Decoder[], keys: Keys): Reading | null {
  if (!ESCAPE_START.test(text)) return null;
  const b = new Builder(text.length);
  let decodedAny = false;
  for (let i = 0; i < text.length;) {
    let escaped: [string, number] | undefined;
    const c = text.charCodeAt(i);
    // Every escape starts with one of these: the decoders are asked only there.
    if (c === 0x25 || c === 0x5c || c === 0x26) for (const decode of decoders) if ((escaped = decode(text, i))) break;
    if (escaped) {
      b.push(keys.of(escaped[0]), 0, i, i + escaped[1]);
      decodedAny = true;
      i += escaped[1];
    } else i += pushLiteral(b, keys, text, i);
  }
  return decodedAny ? b.done() : null;
}

// `+` is a space in a form, and `/` a backslash in a URL's path: each pair is one character while searching, and
// the places of a value holding one of them are then checked exactly.
const merged = (key: number): number => (key === PLUS_CP ? SPACE_CP : key === BACKSLASH_CP ? SLASH_CP : key);

/** A value ready to be searched for: its keys (pairs merged), its KMP failure table, its places to check. */
interface Pattern {
  keys: Int32Array;
  merged: Int32Array;
  fail: Int32Array;
  check: number[];
}

function pattern(value: string, keys: Keys): Pattern {
  const chars = [...value];
  const m = chars.length;
  const own = new Int32Array(m);
  const mk = new Int32Array(m);
  const check: number[] = [];
  chars.forEach((ch, k) => {
    own[k] = keys.of(ch);
    mk[k] = merged(own[k]!);
    if (mk[k] === SPACE_CP || mk[k] === SLASH_CP) check.push(k);
  });
  const fail = new Int32Array(m);
  for (let k = 1, j = 0; k < m; k++) {
    while (j > 0 && mk[k] !== mk[j]) j = fail[j - 1]!;
    if (mk[k] === mk[j]) j++;
    fail[k] = j;
  }
  return { keys: own, merged: mk, fail, check };
}

/** Whether the text's unit `at` stands for the value's character of key `key`. */
function same(r: Reading, at: number, key: number): boolean {
  if (r.keys[at] === key) return true;
  const lit = r.literal[at];
  // A form writes a space as '+'; the URL parser reads a backslash in an http(s) path as a slash.
  return (lit === PLUS && key === SPACE_CP) || (lit === SLASH && key === BACKSLASH_CP);
}

// The shortest beginning of a value hidden at the end of a cut text: as short as values can be (redactSecrets leaves
// values under 4 characters), yet a cut text's last 1 to 3 characters are not hidden merely for resembling one.
const PARTIAL_MIN = 4;
// The longest escape (`\uD83D\uDE00`, `%F0%9F%98%80`): a cut may go through one, which then reads as its characters.
const LONGEST_ESCAPE = 12;

/** Where the text cut short begins to be a value's beginning (see PARTIAL_MIN), as the earliest place found. */
interface CutEnd {
  text: string;
  from: number;
}

/**
 * Whether a value's beginning ending at `end` in the text ends the cut text: at its end, or before a last few
 * characters that may be an escape the cut went through (a `%4`, `\u00`, `&#3`), which then hides them too.
 */
function endsCutText(text: string, end: number): boolean {
  if (end === text.length) return true;
  const c = text.charCodeAt(end);
  return text.length - end < LONGEST_ESCAPE && (c === 0x25 || c === 0x5c || c === 0x26);
}

// Exact checks of a value's places holding a `+`, space, `/` or backslash, per unit of the text searched: a value of
// thousands of spaces and a `+` in a text of encoded spaces would otherwise check thousands at each unit.
const CHECKS_PER_UNIT = 16;

/**
 * Adds the places of `p` in `r`, leftmost first, places that overlap as one. Past CHECKS_PER_UNIT checks per
 * unit, the rest of the text is searched with `+` and space, `/` and backslash as one character: more is
 * redacted (text that differs from a value only there), never less.
 */
function search(r: Reading, p: Pattern, spans: [number, number][], cutEnd?: CutEnd): void {
  const m = p.merged.length;
  if (m === 0 || (m > r.length && !cutEnd)) return;
  let budget = CHECKS_PER_UNIT * r.length;
  const exact = (first: number) => {
    if (budget <= 0) return true;
    for (const k of p.check) {
      budget--;
      if (!same(r, first + k, p.keys[k]!)) return false;
    }
    return true;
  };
  let next = 0; // the first unit after the last place found
  for (let i = 0, j = 0; i < r.length; i++) {
    const key = merged(r.keys[i]!);
    while (j > 0 && key !== p.merged[j]) j = p.fail[j - 1]!;
    if (key === p.merged[j]) j++;
    // A beginning of the value ends here (its `+`/`/` places unchecked: more is hidden, never less).
    if (cutEnd && j >= PARTIAL_MIN && j < m && r.end[i]! > cutEnd.text.length - LONGEST_ESCAPE && endsCutText(cutEnd.text, r.end[i]!))
      cutEnd.from = Math.min(cutEnd.from, r.start[i - j + 1]!);
    if (j < m) continue;
    const first = i - m + 1;
    j = p.fail[m - 1]!;
    if (!exact(first)) continue;
    // A place overlapping the one before (`aaaa` twice in `aaaaaa`) makes it longer: all of both is redacted.
    if (first < next) spans[spans.length - 1]![1] = r.end[i]!;
    else spans.push([r.start[first]!, r.end[i]!]);
    next = i + 1;
  }
}

/**
 * `text` with each place where one of the values occurs, in any of its forms, replaced by that value's marker.
 * Places that overlap are one place, marked with the marker of the value found first there (the longest).
 */
export function replaceSecrets(text: string, values: readonly { value: string; marker: string }[], cut = false): string {
  if (values.length === 0 || text === '') return text;
  const keys = new Keys();
  const patterns = values.map(({ value, marker }) => {
    // A host name: only a value that can be one, with a character outside ASCII (the URL parser would otherwise
    // percent-decode it, or stop at a slash, and yield something else).
    const host = /[^\p{ASCII}]/u.test(value) && !/[\s/\\?#@:%[\]]/.test(value) ? domainToASCII(value) : '';
    return { marker, value: pattern(value, keys), host: host ? pattern(host, keys) : null };
  });
  const found = patterns.map(() => [] as [number, number][]);
  // Per value, where the cut text ends in its beginning (in any reading, the earliest): text.length for nowhere.
  const cutEnds = patterns.map(() => (cut ? { text, from: text.length } : undefined));
  // One reading at a time: a 1 MiB text's readings together would hold tens of MiB.
  const asIs = readAsIs(text, keys);
  patterns.forEach((p, v) => {
    search(asIs, p.value, found[v]!, cutEnds[v]);
    if (p.host) search(asIs, p.host, found[v]!, cutEnds[v]);
  });
  for (const decoders of DECODINGS) {
    const r = readDecoded(text, decoders, keys);
    if (r) patterns.forEach((p, v) => search(r, p.value, found[v]!, cutEnds[v]));
  }
  cutEnds.forEach((c, v) => {
    if (c && c.from < text.length) found[v]!.push([c.from, text.length]);
  });
  const spans = patterns.flatMap((p, v) => found[v]!.map(([start, end]) => ({ start, end, marker: p.marker })));
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
