import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  assertAdmin,
  assertMayWrite,
  assertWorkspaceAccess,
  assertWorkspaceAdmin,
  authenticate,
  type AdminTokenHashes,
  type ApiKeyRole,
  type Principal,
} from '../../services/workspaces/authenticate.js';
import type { Ctx } from '../../services/context.js';
import { resolveSession, userPrincipal } from '../../services/users/sessions.js';
import { assertCsrf, readCookies, SESSION_COOKIE } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The least role a workspace API key needs for this route (the admin token may do everything). */
    role?: ApiKeyRole;
    /** An instance-wide action, named for its error (`creating a user`): the admin token, or a user who is admin
     *  of every workspace (isInstanceAdmin). */
    instanceAdmin?: string;
  }
}

/** Route config of the routes that change credentials, endpoints, keys or settings: admin keys and the admin token only. */
export const adminOnly = { role: 'admin' } as const;

const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/** A bearer token; without one, the console session of the cookie (whose changes need its X-CSRF-Token). */
async function principalOf(ctx: Ctx, admin: AdminTokenHashes, request: FastifyRequest): Promise<Principal> {
  if (request.headers.authorization === undefined) {
    const cookie = readCookies(request.headers.cookie)[SESSION_COOKIE];
    const session = cookie ? await resolveSession(ctx, cookie) : undefined;
    if (session) {
      if (!SAFE_METHODS.includes(request.method)) assertCsrf(request, session.csrfToken);
      return userPrincipal(session.user);
    }
  }
  return authenticate(ctx, admin, request.headers.authorization);
}

/** Every route registered after this in the same scope requires a bearer token (or a console session); a `:ws`
 *  param is checked against the token's workspace. */
export function requireToken(app: FastifyInstance, ctx: Ctx, admin: AdminTokenHashes): void {
  app.decorateRequest('principal', undefined as never);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    request.principal = await principalOf(ctx, admin, request);
    const ws = (request.params as Record<string, string> | undefined)?.ws;
    if (ws !== undefined) assertWorkspaceAccess(request.principal, ws);
    assertMayWrite(request.principal, request.method);
    const { role, instanceAdmin } = request.routeOptions.config;
    if (instanceAdmin !== undefined) assertAdmin(request.principal, instanceAdmin);
    else if (role === 'admin') assertWorkspaceAdmin(request.principal, `${request.method} ${request.routeOptions.url}`);
  });
}
