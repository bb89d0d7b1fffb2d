// Idempotency-Key on every POST of the API; the rules are in services/ops/idempotent-requests.ts.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { canonicalJson } from '../../lib/canonical-json.js';
import type { Ctx } from '../../services/context.js';
import { claimRequest, finishRequest, type IdempotencyClaim } from '../../services/ops/idempotent-requests.js';
import { principalRef } from '../../services/workspaces/authenticate.js';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: IdempotencyClaim | null;
  }
}

/** Method, path with query, and the parsed body with its keys in order: "the same request" as a client means it. */
function requestHash(request: FastifyRequest): string {
  return createHash('sha256')
    .update(`${request.method} ${request.url}\n`)
    .update(canonicalJson(request.body ?? null))
    .digest('hex');
}

/** Call inside the authenticated scope, after requireToken: the credential is the key's namespace. */
export function honourIdempotencyKeys(app: FastifyInstance, ctx: Ctx): void {
  app.decorateRequest('idempotency', null);

  // preHandler: after authentication and schema validation, so a refused request never claims a key.
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || key === undefined) return;
    const outcome = await claimRequest(ctx, {
      scope: principalRef(request.principal),
      key,
      requestHash: requestHash(request),
      workspaceId: (request.params as Record<string, string> | undefined)?.ws ?? null,
    });
    if ('claimed' in outcome) {
      request.idempotency = outcome.claimed;
      return;
    }
    return reply
      .status(outcome.replay.status)
      .header('idempotent-replayed', 'true')
      .type('application/json; charset=utf-8')
      .send(outcome.replay.body);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = null;
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    try {
      await finishRequest(ctx, claim, reply.statusCode, body);
    } catch (err) {
      // The answer itself goes out; only its replay is lost, and the claim lapses after its lock time.
      request.log.warn({ err, code: 'IDEMPOTENCY_STORE_FAILED' }, 'could not keep the answer for Idempotency-Key');
    }
    return payload;
  });
}
