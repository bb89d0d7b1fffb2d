import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  assertMayWrite,
  assertWorkspaceAccess,
  authenticate,
  type AdminTokenHashes,
  type Principal,
} from '../../services/workspaces/authenticate.js';
import type { Ctx } from '../../services/context.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/** Every route registered after this in the same scope requires a bearer token; a `:ws` param is checked
 *  against the token's workspace. */
export function requireToken(app: FastifyInstance, ctx: Ctx, admin: AdminTokenHashes): void {
  app.decorateRequest('principal', undefined as never);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    request.principal = await authenticate(ctx, admin, request.headers.authorization);
    const ws = (request.params as Record<string, string> | undefined)?.ws;
    if (ws !== undefined) assertWorkspaceAccess(request.principal, ws);
    assertMayWrite(request.principal, request.method);
  });
}
