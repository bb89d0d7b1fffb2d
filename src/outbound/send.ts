// One HTTP POST of a webhook: keep-alive connections, an overall timeout, redirects not followed (a 3xx is an
// answer like any other non-2xx), every resolved address checked by the address policy before connecting
// (plain http only where the policy allows it), and the first 4 KiB of the answer kept for the attempt log.
// Outcomes are values, never exceptions: a receiver that answers early and resets the connection while the
// body is still being written (EPIPE, ECONNRESET) is an answer or a failed attempt, never an 'error' event
// without a listener, which would take the whole process down.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import type { AddressPolicy } from './address-policy.js';

export const EXCERPT_BYTES = 4096;
// Read at most this much of an answer before dropping the connection: nobody needs a receiver's 1 GB page.
const MAX_READ_BYTES = 64 * 1024;

export type SendResult =
  | { answered: true; status: number; durationMs: number; excerpt: string; retryAfter: string | undefined }
  | { answered: false; durationMs: number; error: string; blocked: boolean };

export interface Sender {
  /** POST `body`, or GET (no body) to replay a webhook that arrived as a GET. */
  send(url: string, headers: Record<string, string>, body: string, method?: 'POST' | 'GET'): Promise<SendResult>;
  close(): void;
}

class BlockedAddressError extends Error {}

/**
 * Text PostgreSQL can store: a receiver's answer may hold NUL bytes, which a `text` column refuses; the attempt
 * would then never be recorded and the delivery would loop unseen.
 */
export function storableText(s: string): string {
  return s.replace(/\0/g, '\uFFFD');
}

// A socket outlives the request that opened it (keep-alive) and may error between requests or after the
// request stopped listening; one listener per socket, added once, keeps such an error from being fatal.
const guarded = new WeakSet<Socket>();
function guardSocket(socket: Socket): void {
  if (guarded.has(socket)) return;
  guarded.add(socket);
  socket.on('error', () => {
    // Reported through the request that owns the socket, if any; a pooled socket is dropped by the agent.
  });
}

export function createSender(policy: AddressPolicy, opts: { timeoutMs: number; maxSocketsPerHost?: number }): Sender {
  const checkedLookup = (plainHttp: boolean) => (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      // Refuse if any answer is refused: mixing a public and an internal address is a known rebinding trick.
      for (const a of addresses) {
        const why = plainHttp ? policy.refusePlainHttp(a.address) : policy.refuse(a.address);
        if (why) return callback(new BlockedAddressError(`${hostname} resolves to ${why}`));
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} did not resolve`));
      callback(null, first.address, first.family);
    });
  };

  const agentOptions = { keepAlive: true, maxSockets: opts.maxSocketsPerHost ?? 64 };
  const httpAgent = new http.Agent({ ...agentOptions, lookup: checkedLookup(true) as unknown as LookupFunction });
  const httpsAgent = new https.Agent({ ...agentOptions, lookup: checkedLookup(false) as unknown as LookupFunction });

  return {
    send(url, headers, body, method = 'POST') {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      return new Promise<SendResult>((resolve) => {
        let settled = false;
        let timer: NodeJS.Timeout | undefined = undefined;
        const done = (r: SendResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(r.answered ? { ...r, excerpt: storableText(r.excerpt) } : { ...r, error: storableText(r.error) });
        };
        const failed = (err: unknown) => {
          const e = err as NodeJS.ErrnoException;
          const blocked = err instanceof BlockedAddressError;
          const error = blocked ? `blocked: ${e.message}` : e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
          done({ answered: false, durationMs: elapsed(), error, blocked });
        };
        let target: URL;
        try {
          target = new URL(url);
        } catch {
          return done({ answered: false, durationMs: 0, error: 'invalid URL', blocked: false });
        }
        const isHttps = target.protocol === 'https:';
        if (!isHttps && target.protocol !== 'http:') {
          return done({ answered: false, durationMs: 0, error: `blocked: ${target.protocol} is not http(s)`, blocked: true });
        }
        // A literal IP is connected to without a lookup, so it is checked here. WHATWG URL parsing has already
        // normalized decimal, octal and hex hosts ("2130706433", "0x7f.1") to the dotted form checked here.
        const host = target.hostname.replace(/^\[|\]$/g, '');
        if (isIP(host)) {
          const why = isHttps ? policy.refuse(host) : policy.refusePlainHttp(host);
          if (why) return done({ answered: false, durationMs: 0, error: `blocked: ${why}`, blocked: true });
        }
        let req: http.ClientRequest;
        try {
          req = (isHttps ? https : http).request(target, {
            method,
            agent: isHttps ? httpsAgent : httpAgent,
            headers: method === 'GET' ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
          });
        } catch (err) {
          // Thrown synchronously for e.g. a header value Node refuses; a failed attempt like any other.
          return failed(err);
        }
        timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
        req.on('socket', guardSocket);
        req.on('error', failed);
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_READ_BYTES) chunks.push(c);
            else res.destroy();
          });
          const finish = () => {
            done({
              answered: true,
              status: res.statusCode ?? 0,
              durationMs: elapsed(),
              excerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'),
              retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined,
            });
            // The receiver has answered before taking the whole body: stop writing it rather than push the rest
            // into a connection it is closing (the source of EPIPE/ECONNRESET). The socket is not reused.
            if (!req.writableFinished) req.destroy();
          };
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        });
        req.end(method === 'GET' ? undefined : body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
