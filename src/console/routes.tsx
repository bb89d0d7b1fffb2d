/** @jsx h */
// The console: pages under `/`, served by the same process as the API. Each request gets a CSP nonce and its
// session; forms and htmx requests that change anything must carry the session's CSRF token. Pages of a
// workspace are registered from pages/*; this file holds sign-in, setup, sign-out and the workspace list.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { AttemptLimiter } from '../lib/attempt-limiter.js';
import { limitedAddress } from '../lib/client-address.js';
import type { Ctx } from '../services/context.js';
import { inspectLink, LinkUnusableError, redeemLinkAndSignIn } from '../services/users/use-link.js';
import { signIn, signOut } from '../services/users/sessions.js';
import { createWorkspace } from '../services/workspaces/create-workspace.js';
import { isInstanceAdmin } from '../services/workspaces/authenticate.js';
import { listWorkspaces } from '../services/workspaces/list-workspaces.js';
import {
  assertCsrf,
  assertPreSessionCsrf,
  clearCookie,
  CsrfError,
  preSessionCsrf,
  readCookies,
  SESSION_COOKIE,
  setCookie,
} from '../http/plugins/session.js';
import { acceptForms, field, problemsOf } from './forms.js';
import { h } from './jsx.js';
import { LoginPage, MessagePage, PasswordLinkPage } from './pages/auth.js';
import { WorkspacesPage } from './pages/workspaces.js';
import { attachConsoleState, isHtmx, requireSignedIn, safeNext, sendFragment, sendHtml, SignInRequired } from './request.js';
import { serveAssets } from './static.js';
import { workspacePages } from './pages/index.js';
import { Flash } from './components/layout.js';

const PUBLIC_POSTS = new Set(['/login', '/setup', '/set-password']);

export async function consoleRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  serveAssets(app);
  acceptForms(app);
  app.decorateRequest('nonce', '');
  app.decorateRequest('session', undefined);
  // 10 failed sign-ins per address and email in 15 minutes, 100 per address: slow enough to stop guessing,
  // loose enough that a person who mistypes is never locked out for long.
  const perAccount = new AttemptLimiter(10, 15 * 60_000, ctx.now);
  const perAddress = new AttemptLimiter(100, 15 * 60_000, ctx.now);

  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/assets/')) return;
    await attachConsoleState(ctx, request, reply);
  });
  // Every change needs the session's token; the pre-session forms check their own (double-submit) token.
  app.addHook('preHandler', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    if (PUBLIC_POSTS.has(request.url.split('?')[0]!)) return assertPreSessionCsrf(request);
    if (!request.session) throw new SignInRequired();
    assertCsrf(request, request.session.csrfToken);
  });

  app.setErrorHandler((err: Error, request, reply) => answerError(ctx, err, request, reply));

  app.get('/', async (request, reply) => {
    const { principal } = requireSignedIn(request);
    const list = await listWorkspaces(ctx, principal, { limit: 2 });
    // One workspace: straight to it. Otherwise the list (with the form to create one).
    if (list.data.length === 1) return reply.redirect(`/workspaces/${list.data[0]!.id}/overview`);
    return reply.redirect('/workspaces');
  });

  app.get<{ Querystring: { next?: string; ended?: string; changed?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if (request.session) return reply.redirect(next);
    const csrf = preSessionCsrf(request, reply);
    const notice = request.query.changed
      ? 'Your password was set, but the account changed again before you were signed in (another link was used, or it was removed). Sign in with your newest password.'
      : request.query.ended
        ? 'Your session ended. Sign in again to continue.'
        : undefined;
    return sendHtml(reply, LoginPage({ nonce: request.nonce, csrf, next, notice }));
  });

  app.post('/login', async (request, reply) => {
    const email = (field(request.body, 'email') ?? '').slice(0, 254);
    const password = field(request.body, 'password') ?? '';
    const next = safeNext(field(request.body, 'next'));
    const client = limitedAddress(request.ip);
    const accountKey = `${client}\0${email.trim().toLowerCase()}`;
    const wait = Math.max(perAccount.retryAfterMs(accountKey), perAddress.retryAfterMs(client));
    const csrf = preSessionCsrf(request, reply);
    if (wait > 0) {
      reply.header('retry-after', Math.ceil(wait / 1000));
      const error = `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60_000)} minute(s).`;
      return sendHtml(reply, LoginPage({ nonce: request.nonce, csrf, next, email, error }), 429);
    }
    // Counted as failures before the password is checked, in the same tick as the check above: checking takes a
    // scrypt hash, and guesses sent all at once each passed the check before any of them had failed, so a burst
    // of any size was checked in full. An attempt that did not fail is taken back.
    const accountAt = perAccount.fail(accountKey);
    const addressAt = perAddress.fail(client);
    try {
      const { cookie } = await signIn(ctx, email, password);
      perAccount.reset(accountKey);
      perAddress.forgive(client, addressAt);
      setCookie(request, reply, SESSION_COOKIE, cookie);
      return reply.redirect(next, 303);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 401) {
        perAccount.forgive(accountKey, accountAt);
        perAddress.forgive(client, addressAt);
        throw err;
      }
      return sendHtml(reply, LoginPage({ nonce: request.nonce, csrf, next, email, error: 'The email or the password is not right.' }), 401);
    }
  });

  app.post('/logout', async (request, reply) => {
    await signOut(ctx, readCookies(request.headers.cookie)[SESSION_COOKIE]);
    clearCookie(request, reply, SESSION_COOKIE);
    return reply.redirect('/login', 303);
  });

  for (const [path, purpose] of [
    ['/setup', 'setup'],
    ['/set-password', 'set_password'],
  ] as const) {
    app.get<{ Querystring: { token?: string } }>(path, async (request, reply) => {
      const token = request.query.token ?? '';
      const link = await inspectLink(ctx, token);
      // The same answer as any unusable link (use-link.ts says why), not a lowercase fragment of its own.
      if (link.purpose !== purpose) throw new LinkUnusableError();
      const csrf = preSessionCsrf(request, reply);
      return sendHtml(reply, PasswordLinkPage({ nonce: request.nonce, csrf, token, purpose, email: link.email }));
    });
    app.post(path, async (request, reply) => {
      const token = field(request.body, 'token') ?? '';
      const input = {
        email: field(request.body, 'email'),
        password: field(request.body, 'password'),
        confirm: field(request.body, 'confirm'),
      };
      try {
        const { cookie } = await redeemLinkAndSignIn(ctx, token, input);
        // The password is set, but it changed again (or the user was removed) before the session opened.
        if (cookie === null) return reply.redirect('/login?changed=1', 303);
        setCookie(request, reply, SESSION_COOKIE, cookie);
        return reply.redirect(purpose === 'setup' ? '/workspaces' : '/', 303);
      } catch (err) {
        const problems = problemsOf(err);
        if (!problems || (err as AppError).code === 'LINK_UNUSABLE') throw err;
        const csrf = preSessionCsrf(request, reply);
        const link = await inspectLink(ctx, token);
        return sendHtml(
          reply,
          PasswordLinkPage({
            nonce: request.nonce,
            csrf,
            token,
            purpose,
            email: link.email,
            values: { email: input.email },
            problems,
            error: problems._,
          }),
          400,
        );
      }
    });
  }

  const workspacesPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status = 200,
    values?: { name?: string },
    problems?: Record<string, string>,
  ) => {
    const { session, principal } = requireSignedIn(request);
    const list = await listWorkspaces(ctx, principal, { limit: 500 });
    const frame = {
      title: 'Workspaces',
      nonce: request.nonce,
      csrf: session.csrfToken,
      user: { email: session.user.email, role: session.user.role },
    };
    return sendHtml(
      reply,
      WorkspacesPage({ frame, workspaces: list.data, mayCreate: isInstanceAdmin(principal), values, problems }),
      status,
    );
  };
  app.get('/workspaces', async (request, reply) => workspacesPage(request, reply));
  app.post('/workspaces', async (request, reply) => {
    const { principal } = requireSignedIn(request);
    if (!isInstanceAdmin(principal)) throw new AppError('FORBIDDEN', 'creating a workspace needs an admin of every workspace', 403);
    const name = field(request.body, 'name');
    try {
      const ws = await createWorkspace(ctx, { name });
      return reply.redirect(`/workspaces/${ws.id}/settings`, 303);
    } catch (err) {
      const problems = problemsOf(err);
      if (!problems) throw err;
      return workspacesPage(request, reply, 400, { name }, problems);
    }
  });

  // The workspace switcher's form: to the same page of the other workspace.
  app.get<{ Querystring: { ws?: string; page?: string } }>('/go', async (request, reply) => {
    requireSignedIn(request);
    const ws = /^ws_[0-9a-z]{24}$/.test(request.query.ws ?? '') ? request.query.ws! : undefined;
    const page = /^[a-z-]{1,30}$/.test(request.query.page ?? '') ? request.query.page! : 'overview';
    return reply.redirect(ws ? `/workspaces/${ws}/${page}` : '/workspaces');
  });

  for (const register of workspacePages) await app.register(register, { ctx });
}

/** The HTML 404 of a browser asking for a page that does not exist (registered by buildApp as the root's
 *  not-found answer for browsers; the API keeps its JSON 404). */
export async function pageNotFound(ctx: Ctx, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  await attachConsoleState(ctx, request, reply);
  const session = request.session;
  return sendHtml(
    reply,
    MessagePage({
      nonce: request.nonce,
      title: 'Not found',
      message: `There is no page at ${request.url.split('?')[0]}.`,
      status: 404,
      csrf: session?.csrfToken,
      user: session ? { email: session.user.email, role: session.user.role } : undefined,
    }),
    404,
  );
}

/** The path and query of an absolute URL, or undefined. HX-Current-URL is a header anybody can send: parsing it
 *  with `new URL` unguarded threw inside the error handler, so `HX-Current-URL: httpx` answered 500. */
function pathOfUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return undefined;
  }
}

/** Errors as pages (or, for htmx, as a fragment the page shows): sign-in needed, refused, not found, failed. */
function answerError(ctx: Ctx, err: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const nonce = request.nonce || 'none';
  if (err instanceof SignInRequired) {
    const next = request.method === 'GET' && !isHtmx(request) ? request.url : (request.headers['hx-current-url'] as string | undefined);
    let target = '/login';
    const local = next ? safeNext(next.startsWith('http') ? pathOfUrl(next) : next) : '/';
    if (local !== '/') target += `?next=${encodeURIComponent(local)}`;
    if (request.headers.cookie?.includes(`${SESSION_COOKIE}=`)) target += `${target.includes('?') ? '&' : '?'}ended=1`;
    if (isHtmx(request)) return reply.status(401).header('hx-redirect', target).send();
    return reply.redirect(target, 303);
  }
  const appErr = err instanceof AppError ? err : undefined;
  // Fastify's own errors (a body too large, a bad content type) carry a statusCode of their own.
  const frameworkStatus = (err as Error & { statusCode?: number }).statusCode;
  const status = appErr?.status ?? (frameworkStatus && frameworkStatus < 500 ? frameworkStatus : 500);
  if (status >= 500) ctx.log.error({ err, url: request.url.split('?')[0] }, 'console page failed');
  const message = status >= 500 ? 'Something went wrong on the server; the log has the details.' : err.message;
  const title =
    err instanceof CsrfError
      ? 'Form expired'
      : status === 403
        ? 'Not allowed'
        : status === 404
          ? 'Not found'
          : status === 410
            ? 'Link no longer valid'
            : 'Error';
  if (isHtmx(request)) return sendFragment(reply, <Flash kind="error">{message}</Flash>, status);
  const session = request.session;
  return sendHtml(
    reply,
    MessagePage({
      nonce,
      title,
      message,
      status,
      csrf: session?.csrfToken,
      user: session ? { email: session.user.email, role: session.user.role } : undefined,
    }),
    status,
  );
}
