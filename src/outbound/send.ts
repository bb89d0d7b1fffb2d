// One HTTP POST of a webhook: keep-alive connections, an overall timeout, redirects not followed (a 3xx is an
// answer like any other non-2xx), every resolved address checked by the address policy before connecting, and
// the first 4 KiB of the answer kept for the attempt log. Outcomes are values, never exceptions.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
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

export function createSender(policy: AddressPolicy, opts: { timeoutMs: number; maxSocketsPerHost?: number }): Sender {
  const checkedLookup = ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      // Refuse if any answer is refused: mixing a public and an internal address is a known rebinding trick.
      for (const a of addresses) {
        const why = policy.refuse(a.address);
        if (why) return callback(new BlockedAddressError(`${hostname} resolves to ${why}`));
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} did not resolve`));
      callback(null, first.address, first.family);
    });
  }) as unknown as LookupFunction;

  const agentOptions = { keepAlive: true, maxSockets: opts.maxSocketsPerHost ?? 64, lookup: checkedLookup };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  return {
    send(url, headers, body, method = 'POST') {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      return new Promise<SendResult>((resolve) => {
        let target: URL;
        try {
          target = new URL(url);
        } catch {
          return resolve({ answered: false, durationMs: 0, error: 'invalid URL', blocked: false });
        }
        // A literal IP is connected to without a lookup, so it is checked here.
        const host = target.hostname.replace(/^\[|\]$/g, '');
        if (isIP(host)) {
          const why = policy.refuse(host);
          if (why) return resolve({ answered: false, durationMs: 0, error: `blocked: ${why}`, blocked: true });
        }
        const isHttps = target.protocol === 'https:';
        const req = (isHttps ? https : http).request(target, {
          method,
          agent: isHttps ? httpsAgent : httpAgent,
          headers: method === 'GET' ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        });
        const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
        let settled = false;
        const done = (r: SendResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(r);
        };
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_READ_BYTES) chunks.push(c);
            else res.destroy();
          });
          const finish = () =>
            done({
              answered: true,
              status: res.statusCode ?? 0,
              durationMs: elapsed(),
              excerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'),
              retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined,
            });
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          const blocked = err instanceof BlockedAddressError;
          const error = blocked ? `blocked: ${err.message}` : err.code ? `${err.code}: ${err.message}` : err.message;
          done({ answered: false, durationMs: elapsed(), error, blocked });
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
