// One HTTP request of a webhook, over undici keep-alive pools: one pool per destination origin with a bounded
// number of connections, idle sockets closed after a few seconds and a pool nobody used for a minute closed, so
// thousands of endpoints do not hold sockets or memory forever. Redirects are never followed (a 3xx is an answer
// like any other non-2xx). Every address a connection goes to is judged by the address policy: a literal IP
// before anything else, a name in the DNS lookup of each new connection (so a name later pointed at an internal
// address is caught on the next connection), and the socket's remote address again once connected. Plain http
// only where the policy allows it. Outcomes are values, never exceptions: a receiver that resets, closes early,
// answers before taking the body, never answers, or answers forever is an answer or a failed attempt; the
// first 4 KiB of an answer are kept for the attempt log.
import dns from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import { skipInterimContinue } from './interim-continue.js';

export const EXCERPT_BYTES = 4096;
// Read at most this much of an answer before dropping the connection: nobody needs a receiver's 1 GB page.
const MAX_READ_BYTES = 64 * 1024;

export type SendMethod = 'POST' | 'GET' | 'PUT' | 'PATCH' | 'DELETE';

export type SendResult =
  | { answered: true; status: number; durationMs: number; excerpt: string; retryAfter: string | undefined }
  | { answered: false; durationMs: number; error: string; blocked: boolean };

export interface Sender {
  /** POST `body`, or GET (no body) to replay a webhook that arrived as a GET; workflow http steps use the others.
   *  `timeoutMs` shortens this attempt's time (never beyond the sender's own). */
  send(
    url: string,
    headers: Record<string, string>,
    body: string,
    method?: SendMethod,
    timeoutMs?: number,
    redact?: Redact,
  ): Promise<SendResult>;
  close(): void;
}

/**
 * What to hide in an answer (a workflow step's secrets, echoed by the receiver): applied to all that was read, before
 * the cut to EXCERPT_BYTES, so a value the cut goes through is hidden whole rather than kept in part unrecognised.
 * `cut`: the text is only the answer's beginning (the read stopped at MAX_READ_BYTES, the connection broke or the
 * time ran out), so a value may begin at its end and go on past it: such a beginning must be hidden too.
 */
export type Redact = (text: string, cut: boolean) => string;

/** How names are resolved; every answer is judged by the policy. Replaceable so tests can make DNS change. */
export type Resolve = (hostname: string, family: number) => Promise<{ address: string; family: number }[]>;

export interface SenderOptions {
  /** The whole attempt: connecting, writing, waiting for and reading the answer (at most; see Sender.send). */
  timeoutMs: number;
  /** Connections kept per destination origin; requests beyond wait in that origin's queue only. */
  connectionsPerOrigin?: number;
  /** A pool with nothing in flight for this long is closed (its sockets with it). */
  idlePoolMs?: number;
  resolve?: Resolve;
}

class BlockedAddressError extends Error {}

const systemResolve: Resolve = (hostname, family) => dns.promises.lookup(hostname, { all: true, family });

/**
 * Text PostgreSQL can store: a receiver's answer may hold NUL bytes, which a `text` column refuses; the attempt
 * would then never be recorded and the delivery would loop unseen.
 */
export function storableText(s: string): string {
  return s.replace(/\0/g, '\uFFFD');
}

/** `bytes` without a UTF-8 character left incomplete at its end (a lead byte and fewer continuations than it says). */
export function wholeCharacters(bytes: Buffer): Buffer {
  // A character is at most 4 bytes: its lead byte is among the last 4.
  for (let k = bytes.length - 1; k >= Math.max(0, bytes.length - 4); k--) {
    const b = bytes[k]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: the lead is further back
    const width = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return k + width > bytes.length ? bytes.subarray(0, k) : bytes;
  }
  return bytes;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  // The HTTP parser asserts a status of 100 or more: its assertion text says nothing to someone reading attempts.
  if (e?.code === 'ERR_ASSERTION' && /statusCode/.test(e.message ?? ''))
    return 'the receiver answered a status code below 100, which is not HTTP';
  const code = e?.code ?? e?.cause?.code;
  // undici's words for bytes that answer nothing it sent: an answer arriving while no request is out, or an
  // interim 100 Continue that interim-continue.ts could not skip (a status line it does not take for HTTP/1.x).
  if (code === 'UND_ERR_SOCKET' && e?.message === 'bad response')
    return (
      'UND_ERR_SOCKET: the receiver sent what answers no request (an answer while no request was out, or a ' +
      '100 Continue that could not be skipped); the connection was dropped'
    );
  const message = e?.message ?? String(err);
  return code ? `${code}: ${message}` : message;
}

interface OriginPool {
  pool: Pool;
  inFlight: number;
  lastUsed: number;
}

export function createSender(policy: AddressPolicy, opts: SenderOptions): Sender {
  const resolve = opts.resolve ?? systemResolve;
  const idlePoolMs = opts.idlePoolMs ?? 60_000;
  const judge = (plainHttp: boolean, address: string) => (plainHttp ? policy.refusePlainHttp(address) : policy.refuse(address));

  // net.connect's `lookup`: all answers are judged, and one refused answer refuses the name (mixing a public and
  // an internal address is a known rebinding trick).
  const checkedLookup =
    (plainHttp: boolean) =>
    (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void): void => {
      resolve(hostname, typeof options.family === 'number' ? options.family : 0).then(
        (addresses) => {
          for (const a of addresses) {
            const why = judge(plainHttp, a.address);
            if (why) return callback(new BlockedAddressError(`${hostname} resolves to ${why}`));
          }
          if (options.all) return callback(null, addresses);
          const first = addresses[0];
          if (!first) return callback(new Error(`${hostname} did not resolve`));
          callback(null, first.address, first.family);
        },
        (err: unknown) => callback(err),
      );
    };

  const connectors = [false, true].map((plainHttp) => {
    const connect = buildConnector({ timeout: Math.min(opts.timeoutMs, 10_000), lookup: checkedLookup(plainHttp) as never });
    // The socket's actual peer is judged once more: a literal IP skips the lookup, and this is the address used.
    return (options: buildConnector.Options, callback: buildConnector.Callback) =>
      connect(options, (...args) => {
        const [err, socket] = args;
        if (err) return callback(err, null);
        const peer = (socket as Socket).remoteAddress;
        const why = peer ? judge(plainHttp, peer) : 'a connection without a remote address';
        if (why) {
          socket.destroy();
          return callback(new BlockedAddressError(`connected to ${why}`), null);
        }
        // An unasked 100 Continue is skipped as HTTP/1.1 requires, where undici would drop the connection.
        skipInterimContinue(socket as Socket);
        callback(null, socket);
      });
  });

  const pools = new Map<string, OriginPool>();
  const poolFor = (origin: string, plainHttp: boolean): OriginPool => {
    let p = pools.get(origin);
    if (!p) {
      p = {
        pool: new Pool(origin, {
          connections: opts.connectionsPerOrigin ?? 64,
          connect: connectors[plainHttp ? 1 : 0]!,
          keepAliveTimeout: 4_000,
          keepAliveMaxTimeout: 30_000,
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
        }),
        inFlight: 0,
        lastUsed: 0,
      };
      pools.set(origin, p);
    }
    return p;
  };
  const sweep = setInterval(
    () => {
      const idleSince = performance.now() - idlePoolMs;
      for (const [origin, p] of pools) {
        if (p.inFlight === 0 && p.lastUsed < idleSince) {
          pools.delete(origin);
          p.pool.destroy().catch(() => undefined);
        }
      }
    },
    Math.max(1000, idlePoolMs / 2),
  );
  sweep.unref();

  async function attempt(
    target: URL,
    headers: Record<string, string>,
    body: string,
    method: SendMethod,
    limitMs: number,
    elapsed: () => number,
    redact: Redact | undefined,
  ): Promise<SendResult> {
    const plainHttp = target.protocol === 'http:';
    if (!plainHttp && target.protocol !== 'https:') {
      return { answered: false, durationMs: 0, error: `blocked: ${target.protocol} is not http(s)`, blocked: true };
    }
    // A literal IP is connected to without a lookup, so it is checked here. WHATWG URL parsing has already
    // normalized decimal, octal and hex hosts ("2130706433", "0x7f.1") to the dotted form checked here.
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const why = judge(plainHttp, host);
      if (why) return { answered: false, durationMs: 0, error: `blocked: ${why}`, blocked: true };
    }
    const origin = poolFor(target.origin, plainHttp);
    origin.inFlight += 1;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${limitMs} ms`)), limitMs);
    try {
      let answer;
      try {
        const pending = origin.pool.request({
          path: `${target.pathname}${target.search}`,
          method,
          headers,
          body: method === 'GET' ? null : body,
          signal: timeout.signal,
        });
        // undici leaves a request waiting for its connection (a TLS handshake the receiver never completes) until
        // the connector's own timeout, whatever the signal says: the attempt's time is kept here. A request given up
        // on that is answered later has its answer dropped, and its connection with it.
        let givenUp = false;
        const outOfTime = new Promise<never>((_, reject) =>
          timeout.signal.addEventListener(
            'abort',
            () => {
              givenUp = true;
              reject(timeout.signal.reason as Error);
            },
            { once: true },
          ),
        );
        outOfTime.catch(() => undefined);
        pending.then(
          (late) => givenUp && late.body.destroy(),
          () => undefined,
        );
        answer = await Promise.race([pending, outOfTime]);
      } catch (err) {
        if (timeout.signal.aborted)
          return { answered: false, durationMs: elapsed(), error: `no answer within ${limitMs} ms`, blocked: false };
        const blocked = err instanceof BlockedAddressError;
        return { answered: false, durationMs: elapsed(), error: blocked ? `blocked: ${(err as Error).message}` : describe(err), blocked };
      }
      // An answer counts from its status line on; whatever happens while reading its body (a reset, the
      // attempt's time running out, more than we read) only shortens the excerpt.
      const chunks: Buffer[] = [];
      let size = 0;
      // Whether the answer goes on past what was read (see Redact).
      let cut = false;
      try {
        for await (const chunk of answer.body as AsyncIterable<Buffer>) {
          // Read up to the limit exactly, wherever the chunks end, so where an answer is cut does not depend on them.
          const room = MAX_READ_BYTES - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size += room;
            cut = true;
            break; // leaving the loop destroys the body and its connection
          }
          chunks.push(chunk);
          size += chunk.length;
        }
      } catch {
        // the excerpt is what arrived
        cut = true;
      }
      const retryAfter = answer.headers['retry-after'];
      const location =
        typeof answer.headers.location === 'string' && redact ? redact(answer.headers.location, false) : answer.headers.location;
      const read = Buffer.concat(chunks);
      // Redacted before the cut (see Redact); cut between bytes as before (a cut inside a character leaves U+FFFD).
      // A read that was cut short is redacted without the character its end went through: as U+FFFD it would end a
      // value's beginning that the redaction must see up to the end.
      const excerpt = (redact ? Buffer.from(redact((cut ? wholeCharacters(read) : read).toString('utf8'), cut)) : read)
        .subarray(0, EXCERPT_BYTES)
        .toString('utf8');
      return {
        answered: true,
        status: answer.statusCode,
        durationMs: elapsed(),
        // Redirects are not followed: where the receiver moved (http to https, a new path) is what its owner needs.
        excerpt:
          answer.statusCode >= 300 && answer.statusCode < 400 && typeof location === 'string'
            ? `Location: ${location.slice(0, 2000)}${excerpt ? `\n${excerpt}` : ''}`.slice(0, EXCERPT_BYTES)
            : excerpt,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
      };
    } finally {
      clearTimeout(timer);
      origin.inFlight -= 1;
      origin.lastUsed = performance.now();
    }
  }

  return {
    async send(url, headers, body, method = 'POST', timeoutMs = opts.timeoutMs, redact) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return { answered: false, durationMs: 0, error: 'invalid URL', blocked: false };
      }
      let r: SendResult;
      try {
        r = await attempt(target, headers, body, method, Math.min(timeoutMs, opts.timeoutMs), elapsed, redact);
      } catch (err) {
        // Nothing above is expected to throw; if something does, it is still a failed attempt, not a crash.
        r = { answered: false, durationMs: elapsed(), error: describe(err), blocked: false };
      }
      return r.answered ? { ...r, excerpt: storableText(r.excerpt) } : { ...r, error: storableText(r.error) };
    },
    close() {
      clearInterval(sweep);
      for (const p of pools.values()) p.pool.destroy().catch(() => undefined);
      pools.clear();
    },
  };
}
