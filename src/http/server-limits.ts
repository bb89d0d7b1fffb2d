// The HTTP server with its resource limits. Sluice's webhook URLs are public and unauthenticated, so a client
// that opens a connection and trickles bytes (slowloris) must not hold a socket for ever: headers and the whole
// request each have a deadline, idle keep-alive connections close, and connections beyond a cap are refused.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyServerFactory } from 'fastify';
import type { Config } from '../config.js';
import type { FastPath } from './webhook-fast-path.js';

type Limits = Pick<Config, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxRequestsPerSocket' | 'maxConnections'>;

/** `fastPath` sees each request first and takes it, or leaves it to Fastify (webhook-fast-path.ts). */
export function limitedServerFactory(limits: Limits, fastPath?: FastPath): FastifyServerFactory {
  return (fastify) => {
    const handler: http.RequestListener = fastPath ? (req, res) => void (fastPath(req, res) || fastify(req, res)) : fastify;
    const requestTimeout = limits.requestTimeoutMs;
    const server = http.createServer(
      {
        // Node refuses a headers deadline later than the request deadline.
        headersTimeout: Math.min(limits.headersTimeoutMs, requestTimeout),
        requestTimeout,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // Node checks those deadlines on a timer (30 s by default): check often enough that a slow client is
        // cut off within about a second of its deadline, not half a minute after.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, requestTimeout) / 4))),
        // Header names and values beyond 16 KiB are refused with 431 (Node's default, stated here on purpose).
        maxHeaderSize: 16 * 1024,
      },
      handler,
    );
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    server.maxConnections = limits.maxConnections;
    // A client that sent a full request but stops reading its answer is bounded by the socket's idle timeout (5 minutes: long enough for a slow API call such as a rebuild).
    server.setTimeout(Math.max(requestTimeout, 300_000));
    return server;
  };
}

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request headers are over 16 KiB'],
};

const URL_TOO_LONG: [number, string, string] = [414, 'URL_TOO_LONG', 'the URL is over 16 KiB'];

/** Whether what overflowed the 16 KiB is the request line itself (a long URL, e.g. a GET with a large query), as far
 *  as the packet that overflowed shows it: it starts with the method and holds no line end for over half the limit. */
function urlTooLong(packet: unknown): boolean {
  if (!Buffer.isBuffer(packet) || !/^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1'))) return false;
  const lineEnd = packet.indexOf('\r\n');
  return lineEnd === -1 ? packet.length > 8 * 1024 : lineEnd > 8 * 1024;
}

/** HTTP that never reached a route (unparseable, too slow, headers too large): answered in our error shape, then closed. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // A request pipelined behind one still being answered (a webhook waiting for its commit): our error would reach
  // the client as the answer to that earlier request, a refusal of an event that may be stored. The connection is
  // closed instead, and the client, with no answer, sends both again (a stored event is then a duplicate).
  // (`_httpMessage` is Node's own field for the response a socket is writing; were it ever gone, this check would
  // simply not apply and the error be written as before.)
  const pending = (socket as Socket & { _httpMessage?: { writableEnded?: boolean } })._httpMessage;
  if (pending && !pending.writableEnded) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW' && urlTooLong((err as { rawPacket?: unknown }).rawPacket)
      ? URL_TOO_LONG
      : (CLIENT_ERRORS[err.code ?? ''] ?? [400, 'BAD_REQUEST', 'the request is not valid HTTP/1.1']);
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
