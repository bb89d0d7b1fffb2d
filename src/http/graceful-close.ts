// Closing the HTTP side without cutting anyone off. Closing a server closes its idle keep-alive connections at
// once, and under load a client may already have sent its next request on one of them: that request is reset,
// and the sender cannot tell whether its webhook was taken (about 1 % of requests at a SIGTERM under load). So
// the listener closes first (a new connection is refused: nothing was sent, the client tries again or another
// instance), and for a short while every answer on the connections still open says `Connection: close`: each
// client's next request is served and its connection ends after the answer. Only connections that stay idle
// for that whole while are closed under a client, which would have to send at that very moment to be cut off.
import net from 'node:net';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Stops accepting connections and lets the open ones end after their next answer; resolves when none is left, or
 * after `drainMs`. The caller then closes the app: in-flight requests finish, what is still idle is closed.
 */
export async function drainConnections(app: FastifyInstance, drainMs: number): Promise<void> {
  // Ahead of Fastify's own listener, and only from now on: nothing is added to a request's path before a stop.
  app.server.prependListener('request', (_request, response: ServerResponse) => response.setHeader('connection', 'close'));
  // net.Server's close: http.Server's would also close the idle connections now, which is what this avoids.
  net.Server.prototype.close.call(app.server);
  const deadline = Date.now() + drainMs;
  while (Date.now() < deadline && (await openConnections(app.server)) > 0) await new Promise((r) => setTimeout(r, 20));
}

function openConnections(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)));
}
