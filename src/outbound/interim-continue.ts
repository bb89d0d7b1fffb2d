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
// write until the first byte that cannot begin a `100` status line, leading `HTTP/1.x 100 …` blocks (status line,
// any header fields, the blank line) are dropped; everything after is passed through untouched, whatever it says.
// Bytes that could still turn out to be such a block are held back until they decide (at most MAX_INTERIM_BYTES:
// past that they are handed to undici as they are, which then fails the attempt as before).
import type { Socket } from 'node:net';

const MAX_INTERIM_BYTES = 8192;
// The request line undici writes first in every request head: `${method} ${path} HTTP/1.1\r\n`.
const REQUEST_LINE = /^[A-Z]+ [^ \r\n]+ HTTP\/1\.1\r\n/;
// The shortest text that says whether an answer starts with a 100: "HTTP/1.1 100" and the character after it.
const DECIDING_LENGTH = 13;
const CONTINUE_LINE = /^HTTP\/1\.[01] 100[ \r\n]/;
const CONTINUE_FORMS = ['HTTP/1.1 100 ', 'HTTP/1.1 100\r', 'HTTP/1.1 100\n', 'HTTP/1.0 100 ', 'HTTP/1.0 100\r', 'HTTP/1.0 100\n'];
const END_OF_HEAD = /\r?\n\r?\n/;

/** Bytes at the start of `data`: a whole interim 100 block's length, 'more' (undecided yet), or 'none'. */
export function leadingContinue(data: Buffer): number | 'more' | 'none' {
  const start = data.subarray(0, DECIDING_LENGTH).toString('latin1');
  if (!CONTINUE_LINE.test(start)) {
    return start.length < DECIDING_LENGTH && CONTINUE_FORMS.some((form) => form.startsWith(start)) ? 'more' : 'none';
  }
  const text = data.subarray(0, MAX_INTERIM_BYTES).toString('latin1');
  const end = END_OF_HEAD.exec(text);
  if (end) return end.index + end[0].length;
  return data.length >= MAX_INTERIM_BYTES ? 'none' : 'more';
}

/** Makes undici's HTTP/1.1 parser on `socket` never see an interim `100 Continue` answer (see above). */
export function skipInterimContinue(socket: Socket): void {
  const write = socket.write;
  const read = socket.read;
  // True from a request head's write until its answer's first bytes show it is not (or no longer) a 100.
  let answerStart = false;
  let held: Buffer | null = null;

  socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (typeof chunk === 'string' && REQUEST_LINE.test(chunk)) answerStart = true;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Socket['write'];

  socket.read = function (this: Socket, size?: number) {
    if (!answerStart) return read.call(this, size);
    for (;;) {
      const chunk = read.call(this) as Buffer | null;
      if (chunk === null) return null; // what is held waits for more ('readable' comes again when it arrives)
      let data = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      while (answerStart && data.length > 0) {
        const found = leadingContinue(data);
        if (found === 'none') answerStart = false;
        else if (found === 'more') {
          held = data;
          break;
        } else data = data.subarray(found);
      }
      if (!held && data.length > 0) return data;
      // else: only (part of) an interim answer so far; read on
    }
  } as Socket['read'];
}
