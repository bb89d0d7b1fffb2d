// An HTTP/1.1 client must ignore an interim (1xx) answer it did not expect (RFC 9110 §15.2), and a `100 Continue`
// is one whenever Sluice sends no `Expect: 100-continue`, which is always (undici refuses that header). undici
// skips 102 and 103 but destroys the connection on any 100 (`UND_ERR_SOCKET: bad response`, hard-coded in its
// HTTP/1.1 parser callbacks in 7.x and 8.x, with no option to change it), so a receiver whose server sends
// `100 Continue` unasked (some IIS/ASP.NET, PHP and proxy set-ups) failed every attempt although it had taken the
// request and answered 200. This removes such interim answers from a connection's incoming bytes before undici's
// parser reads them: undici then sees only the final answer, and the connection stays reusable.
//
// How: undici writes each HTTP/1.1 request head as one latin1 string starting with its request line, and reads the
// answer with `socket.read()` (on 'readable'); Sluice's pools keep undici's default of one request at a time per
// connection (no pipelining), so the bytes that arrive after a request head is written start its answer. From that
// write until the first byte that cannot begin an interim (1xx) status line, leading `HTTP/1.x 100 …` blocks (status
// line, any header fields, the blank line) are dropped and other interim ones (102, 103) passed on, so a 100 after
// a 103 Early Hints is dropped too; everything after is passed through untouched, whatever it says.
// Bytes that could still turn out to be such a block are held back until they decide.
//
// Bounded: RFC 9110 allows any number of interim answers, and undici reads past 102/103 for as long as they come, so
// a receiver that sent them without end kept the attempt busy until its timeout (15 s by default) while Sluice read
// whatever it sent (130 MB in 2 s). A request's answer may start with at most MAX_INTERIM_ANSWERS interim answers,
// each with a head of at most MAX_INTERIM_BYTES; past either, the connection is destroyed with an InterimAnswerError,
// which fails the attempt at once (retried like any failure). So at most 8 × 8 KiB of interim heads are read.
import type { Socket } from 'node:net';

// An interim head's longest (status line, header fields, blank line). A 103's few `link` fields fit many times over.
const MAX_INTERIM_BYTES = 8192;
// Interim answers read past before one request's final answer. Servers send one 100 Continue, one or two 103 Early
// Hints (as the preloads become known), a 102 Processing now and then on a long request: a handful at most before
// a webhook's answer, which comes within the attempt's seconds. 8 leaves room for all of them together, and ends
// at once a receiver that sends them in a loop, slowly or fast.
export const MAX_INTERIM_ANSWERS = 8;

/** Why an answer's interim part was refused: the attempt's error (undici fails the request with it). */
export class InterimAnswerError extends Error {}
// The request line undici writes first in every request head: `${method} ${path} HTTP/1.1\r\n`.
const REQUEST_LINE = /^[A-Z]+ [^ \r\n]+ HTTP\/1\.1\r\n/;
// The shortest text that says whether an answer starts with an interim one: "HTTP/1.1 1xx" and the character after.
const DECIDING_LENGTH = 13;
const INTERIM_LINE = /^HTTP\/1\.[01] 1([0-9][0-9])[ \r\n]/;
// What each of the first DECIDING_LENGTH characters of an interim status line may be.
const INTERIM_FORM = ['H', 'T', 'T', 'P', '/', '1', '.', '01', ' ', '1', '0123456789', '0123456789', ' \r\n'];

/**
 * What starts `data`: an interim answer to drop (a `100`) or to pass on and read past (102, 103, any 1xx but 101,
 * which undici skips itself), with its length; 'more' (undecided yet); or 'none' (anything else, a final answer).
 */
export function leadingInterim(data: Buffer): { drop: boolean; length: number } | 'more' | 'none' | 'too long' {
  const start = data.subarray(0, DECIDING_LENGTH).toString('latin1');
  const line = INTERIM_LINE.exec(start);
  if (!line) {
    const couldBe = [...start].every((ch, i) => INTERIM_FORM[i]!.includes(ch));
    return start.length < DECIDING_LENGTH && couldBe ? 'more' : 'none';
  }
  // 101 Switching Protocols ends the answer to a request (undici refuses it where it asked for no upgrade).
  if (line[1] === '01') return 'none';
  // The head ends at its first empty line (`\r\n\r\n`, or bare `\n`s), looked for in the bytes themselves: a text
  // of 8 KiB made for each of thousands of small interim heads in a chunk cost more than undici's parsing of them.
  for (let nl = data.indexOf(0x0a); nl >= 0 && nl < MAX_INTERIM_BYTES; nl = data.indexOf(0x0a, nl + 1)) {
    const next = data[nl + 1] === 0x0d ? nl + 2 : nl + 1;
    if (data[next] === 0x0a && next < MAX_INTERIM_BYTES) return { drop: line[1] === '00', length: next + 1 };
  }
  return data.length >= MAX_INTERIM_BYTES ? 'too long' : 'more';
}

/** Makes undici's HTTP/1.1 parser on `socket` never see an interim `100 Continue` answer (see above). */
export function skipInterimContinue(socket: Socket): void {
  const write = socket.write;
  const read = socket.read;
  // True from a request head's write until its answer's first bytes show it is not (or no longer) a 100.
  let answerStart = false;
  let held: Buffer | null = null;
  // Interim answers read past since the request head was written.
  let interim = 0;

  socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (typeof chunk === 'string' && REQUEST_LINE.test(chunk)) {
      answerStart = true;
      interim = 0;
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Socket['write'];

  socket.read = function (this: Socket, size?: number) {
    if (!answerStart) return read.call(this, size);
    for (;;) {
      const chunk = read.call(this) as Buffer | null;
      if (chunk === null) return null; // what is held waits for more ('readable' comes again when it arrives)
      const data = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      // The parts of `data` passed on, [from, to): interim answers other than 100 (a 103 Early Hints, which a 100
      // may follow), then the rest once the answer's start is decided. Adjacent parts are one.
      const passed: [number, number][] = [];
      const pass = (from: number, to: number) => {
        const last = passed[passed.length - 1];
        if (last && last[1] === from) last[1] = to;
        else passed.push([from, to]);
      };
      let at = 0;
      while (answerStart && at < data.length) {
        const found = leadingInterim(data.subarray(at));
        if (found === 'none') answerStart = false;
        else if (found === 'more') {
          held = data.subarray(at);
          at = data.length;
        } else if (found === 'too long' || ++interim > MAX_INTERIM_ANSWERS) {
          // Nothing more is read or passed on: undici fails the request with this error when the socket closes.
          held = null;
          this.destroy(
            new InterimAnswerError(
              found === 'too long'
                ? `the receiver sent an interim (1xx) answer with a head over ${MAX_INTERIM_BYTES / 1024} KiB; the connection was dropped`
                : `the receiver sent more than ${MAX_INTERIM_ANSWERS} interim (1xx) answers without a final one; the connection was dropped`,
            ),
          );
          return null;
        } else {
          if (!found.drop) pass(at, at + found.length);
          at += found.length;
        }
      }
      if (at < data.length) pass(at, data.length);
      if (passed.length > 0) return Buffer.concat(passed.map(([from, to]) => data.subarray(from, to)));
      // else: only (part of) an interim answer so far; read on
    }
  } as Socket['read'];
}
