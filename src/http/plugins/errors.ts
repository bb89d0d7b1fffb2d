// One place maps every failure to `{"error":{"code","message"}}`. AppErrors keep their status and code;
// schema validation failures list every problem; Fastify's own errors (bad JSON, body too large, bad URL
// encoding) get stable codes of ours, so no `FST_ERR_…` ever reaches a caller; anything else is a 500 whose
// details stay in the log, never in the answer.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { summarize, toProblems } from './validation-problems.js';

interface Mapped {
  status: number;
  code: string;
  message: string;
}

// Fastify's errors that a request can trigger, by Fastify code. Messages are ours: Fastify's may name internals.
const FASTIFY_ERRORS: Record<string, Mapped> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'the request body is over the size limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON (Content-Type: application/json)' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: 'the body is empty although Content-Type says JSON; send a JSON value or no Content-Type',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'the request body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'INVALID_CONTENT_LENGTH',
    message: 'the Content-Length header does not match the body received',
  },
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: { status: 400, code: 'BAD_REQUEST', message: 'the request could not be read' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_URL', message: 'the URL path is not valid percent-encoded UTF-8' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URL_TOO_LONG', message: 'a path segment of the URL is too long' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'BAD_REQUEST', message: 'the request matches no route variant' },
  FST_ERR_BAD_STATUS_CODE: { status: 500, code: 'INTERNAL', message: 'internal error; see the server log' },
};

const BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URL_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

/** A 4xx Fastify (or Node) raised itself: a stable code of ours, never the internal one. */
function mapFrameworkError(err: FastifyError): Mapped | undefined {
  const known = err.code ? FASTIFY_ERRORS[err.code] : undefined;
  if (known) return known;
  // JSON.parse failures come through as a bare SyntaxError with status 400; so does valid JSON that carries a
  // prototype key, which the parser refuses on purpose (prototype pollution) and which deserves its own words.
  if (err instanceof SyntaxError && (err.statusCode === 400 || err.statusCode === undefined)) {
    if (/forbidden prototype property/i.test(err.message)) {
      return {
        status: 400,
        code: 'INVALID_JSON',
        message: 'the JSON body has a "__proto__" or "constructor.prototype" key, which is refused',
      };
    }
    return FASTIFY_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY;
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const fromFastify = typeof err.code === 'string' && err.code.startsWith('FST_');
    return {
      status: err.statusCode,
      code: (!fromFastify && err.code) || BY_STATUS[err.statusCode] || 'BAD_REQUEST',
      message: fromFastify ? 'the request could not be accepted' : err.message,
    };
  }
  return undefined;
}

/** The body of an answer whose details stay in the log. */
export const INTERNAL_ERROR = { error: { code: 'INTERNAL', message: 'internal error; see the server log' } };

/** How an AppError is answered, wherever (this handler, the webhook fast path): its status, its body, and whether a
 *  retry-after goes with it. */
export function appErrorAnswer(err: AppError): { status: number; body: unknown; retryAfter: boolean } {
  return { status: err.status, body: { error: { code: err.code, message: err.message, ...err.details } }, retryAfter: err.retryable };
}

function answer(request: FastifyRequest, reply: FastifyReply, err: FastifyError) {
  if (err instanceof AppError) {
    if (err.status >= 500) request.log.error({ err: err.cause ?? err, code: err.code }, err.message);
    const { status, body, retryAfter } = appErrorAnswer(err);
    if (retryAfter) reply.header('retry-after', '5');
    return reply.status(status).send(body);
  }
  if (Array.isArray(err.validation)) {
    const problems = toProblems(err.validation, err.validationContext);
    // `field` (the first problem's top-level name) is what the services' own validation errors carry too.
    const field = problems[0]?.path.split('/')[2];
    return reply
      .status(400)
      .send({ error: { code: 'VALIDATION_FAILED', message: summarize(problems), ...(field ? { field } : {}), problems } });
  }
  const mapped = mapFrameworkError(err);
  if (mapped && mapped.status < 500) return reply.status(mapped.status).send({ error: { code: mapped.code, message: mapped.message } });
  request.log.error({ err }, 'unhandled error');
  return reply.status(500).send(INTERNAL_ERROR);
}

/** For Fastify's `frameworkErrors` option: the errors raised before routing (bad URL encoding, over-long
 *  path segments), which otherwise bypass the error handler with Fastify's own body. */
export function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void answer(request, reply, err);
}

/** A browser asking for a page (not the API, not a webhook): it gets the console's HTML 404 instead of JSON. */
function wantsPage(request: FastifyRequest): boolean {
  const path = request.url;
  if (path.startsWith('/api/') || path.startsWith('/webhooks/')) return false;
  return request.method === 'GET' && /\btext\/html\b/.test(String(request.headers.accept ?? ''));
}

export function registerErrorHandling(
  app: FastifyInstance,
  opts: { pageNotFound?: (request: FastifyRequest, reply: FastifyReply) => unknown } = {},
): void {
  app.setErrorHandler((err: FastifyError, request, reply) => answer(request, reply, err));

  app.setNotFoundHandler((request, reply) => {
    if (opts.pageNotFound && wantsPage(request)) return opts.pageNotFound(request, reply);
    return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
}
