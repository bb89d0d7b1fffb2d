// One place maps every failure to `{"error":{"code","message"}}`. AppErrors keep their status and code;
// Fastify's own errors (bad JSON, body too large) get stable codes; anything else is a 500 whose details
// stay in the log, never in the answer.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err: err.cause ?? err, code: err.code }, err.message);
      if (err.retryable) reply.header('retry-after', '5');
      return reply.status(err.status).send({ error: { code: err.code, message: err.message, ...err.details } });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is over the size limit' } });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(415).send({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON (Content-Type: application/json)' } });
    }
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (err.statusCode === 400 && err instanceof SyntaxError)) {
      return reply.status(400).send({ error: { code: 'INVALID_JSON', message: 'the request body is not valid JSON' } });
    }
    if (err.validation) {
      return reply.status(400).send({ error: { code: 'VALIDATION_FAILED', message: err.message } });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
}
