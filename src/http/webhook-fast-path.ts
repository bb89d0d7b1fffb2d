// Stripe webhooks, the one route that takes thousands of requests a second, answered straight from Node's HTTP
// server instead of through Fastify's routing, hooks, request and reply objects and per-request child logger
// (10-15 % of the server's CPU per webhook, docs/benchmarks.md). Only a request that Fastify would have routed to
// the same handler with nothing to refuse before it is taken here: POST to /webhooks/stripe/<a valid workspace id>
// with no query string, Stripe's Content-Type, a Content-Length within the limit, no Transfer-Encoding or Expect,
// and a Stripe-Signature header the route's schema accepts; and not at log level debug or trace, where the route
// logs each request. Everything else (and every request once the app closes) goes to Fastify untouched, which
// answers it exactly as before. The answers, errors, headers and metrics are the route's own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../errors.js';
import type { Ctx } from '../services/context.js';
import { ingestStripeEvent } from '../services/ingest/ingest-stripe-event.js';
import { appErrorAnswer, INTERNAL_ERROR } from './plugins/errors.js';
import { observeRequestDuration } from './plugins/request-metrics.js';

/** The route's path, as the Fastify route registers it and the request metrics name it. */
export const STRIPE_WEBHOOK_ROUTE = '/webhooks/stripe/:workspaceId';
const PATH = /^\/webhooks\/stripe\/(ws_[0-9a-z]{1,64})$/;
/** `application/json`, with or without a UTF-8 charset, as Stripe sends it. */
const JSON_TYPE = /^application\/json(?:\s*;\s*charset=(?:utf-8|"utf-8"))?$/i;
/** The route schema's bound on the signature header. */
const SIGNATURE_MAX = 8192;

const RECEIVED = '{"received":true}';
const DUPLICATE = '{"received":true,"duplicate":true}';

export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The fast path, or a request it leaves to Fastify (false). `closing()` tells when the app is shutting down. */
export function stripeWebhookFastPath(ctx: Ctx, closing: () => boolean): FastPath {
  // At debug and trace the route logs a line per request (routes/webhooks-stripe.ts): Fastify keeps them all.
  if (ctx.config.logLevel === 'debug' || ctx.config.logLevel === 'trace') return () => false;
  const limit = ctx.config.maxBodyBytes;
  return (req, res) => {
    if (req.method !== 'POST' || closing()) return false;
    const url = req.url;
    if (url === undefined || !url.startsWith('/webhooks/stripe/')) return false;
    const workspaceId = PATH.exec(url)?.[1];
    if (workspaceId === undefined) return false;
    const headers = req.headers;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || headers.expect !== undefined) return false;
    // The media type Stripe sends; any other (none, a malformed one Fastify answers 415) is Fastify's to judge.
    const type = headers['content-type'];
    if (type === undefined || !JSON_TYPE.test(type)) return false;
    const bytes = Number(length);
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > limit) return false;
    const signature = headers['stripe-signature'];
    if (signature !== undefined && signature.length > SIGNATURE_MAX) return false;

    const started = performance.now();
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
    });
    // A client that hangs up mid-body: nothing was acknowledged, nothing to answer (an unheard 'error' would throw).
    req.on('error', () => {});
    req.on('end', () => {
      // Node's parser ends the body at Content-Length: fewer bytes means the client went away.
      if (received !== bytes) return;
      const rawBody = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      ingestStripeEvent(ctx, { workspaceId, rawBody, headers }).then(
        (result) => send(ctx, res, 200, result.duplicate ? DUPLICATE : RECEIVED, started),
        (err: unknown) => fail(ctx, res, err, url, started),
      );
    });
    return true;
  };
}

function send(ctx: Ctx, res: ServerResponse, status: number, body: string, started: number, retryAfter = false): void {
  if (res.writableEnded || res.destroyed) return;
  res.statusCode = status;
  // In the order Fastify's error handler and reply set them.
  if (retryAfter) res.setHeader('retry-after', '5');
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
  ctx.metrics.httpRequests.inc({ route: STRIPE_WEBHOOK_ROUTE, status: String(status) });
  observeRequestDuration(ctx.metrics, STRIPE_WEBHOOK_ROUTE, status, performance.now() - started);
}

/** As the app's error handler answers (plugins/errors.ts): an AppError with its status, code and details; anything
 *  else a 500 whose details stay in the log. */
function fail(ctx: Ctx, res: ServerResponse, err: unknown, path: string, started: number): void {
  if (err instanceof AppError) {
    if (err.status >= 500) ctx.log.error({ err: err.cause ?? err, code: err.code, route: STRIPE_WEBHOOK_ROUTE, path }, err.message);
    const { status, body, retryAfter } = appErrorAnswer(err);
    send(ctx, res, status, JSON.stringify(body), started, retryAfter);
    return;
  }
  ctx.log.error({ err, route: STRIPE_WEBHOOK_ROUTE, path }, 'unhandled error');
  send(ctx, res, 500, JSON.stringify(INTERNAL_ERROR), started);
}
