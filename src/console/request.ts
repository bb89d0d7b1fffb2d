// What every console route needs: the request's CSP nonce and session, rendering a page with its headers, and
// the checks (signed in, may open this workspace, has this role) that send a person to the right place.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ForbiddenError } from '../errors.js';
import type { Ctx } from '../services/context.js';
import { countOpenIncidents } from '../services/incidents/count-open-incidents.js';
import { resolveSession, userPrincipal, type ConsoleSession } from '../services/users/sessions.js';
import { assertWorkspaceAccess, roleOf, type Principal } from '../services/workspaces/authenticate.js';
import { getWorkspace, listWorkspaces } from '../services/workspaces/list-workspaces.js';
import { readCookies, SESSION_COOKIE } from '../http/plugins/session.js';
import type { Html } from './jsx.js';
import { renderDocument } from './jsx.js';
import type { LayoutProps, WorkspaceLink } from './components/layout.js';

declare module 'fastify' {
  interface FastifyRequest {
    nonce: string;
    session: ConsoleSession | undefined;
  }
}

export function contentSecurityPolicy(nonce: string): string {
  // No 'unsafe-inline' and no 'unsafe-eval'; scripts only from here and with this response's nonce. No
  // upgrade-insecure-requests: a console served over plain http on localhost must keep working.
  return [
    "default-src 'none'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export async function attachConsoleState(ctx: Ctx, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  request.nonce = randomBytes(16).toString('base64');
  // Behind a TLS proxy (an https SLUICE_PUBLIC_URL) the cookies must be Secure though this hop is plain http.
  request.publicHttps = /^https:/i.test(ctx.config.publicUrl ?? '');
  const cookie = readCookies(request.headers.cookie)[SESSION_COOKIE];
  request.session = cookie ? await resolveSession(ctx, cookie) : undefined;
  reply
    .header('content-security-policy', contentSecurityPolicy(request.nonce))
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store');
}

export function isHtmx(request: FastifyRequest): boolean {
  return request.headers['hx-request'] === 'true';
}

export function sendHtml(reply: FastifyReply, html: Html, status = 200): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(renderDocument(html));
}

export function sendFragment(reply: FastifyReply, html: Html, status = 200): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(html.value);
}

/** Not signed in (or the session ended): back to the login, which returns here afterwards. */
export class SignInRequired extends AppError {
  constructor() {
    super('SIGN_IN_REQUIRED', 'sign in to continue', 401);
  }
}

/** A path on this site to return to after sign-in; anything else (another host, `//x`) becomes `/`. */
export function safeNext(raw: unknown): string {
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\') || raw.length > 2000) return '/';
  // No control characters and no backslash anywhere: browsers drop tab, CR and LF from a URL before resolving it
  // and read `\` as `/`, so `next=/%09/evil.example` (a Location of `/<tab>/evil.example`) was followed as
  // `//evil.example`, an open redirect after sign-in. Paths this console links to never contain either.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(raw)) return '/';
  return raw;
}

export interface SignedIn {
  session: ConsoleSession;
  principal: Principal;
}

export function requireSignedIn(request: FastifyRequest): SignedIn {
  if (!request.session) throw new SignInRequired();
  return { session: request.session, principal: userPrincipal(request.session.user) };
}

export interface WorkspacePage extends SignedIn {
  workspace: WorkspaceLink;
  workspaces: WorkspaceLink[];
  role: 'admin' | 'member' | 'viewer';
  /** The props every page of the workspace passes to Layout. */
  layout(title: string, current: string): Omit<LayoutProps, 'children'>;
}

/** Signed in and allowed to open the workspace; loads what the frame needs (the switcher's list). */
export async function requireWorkspace(ctx: Ctx, request: FastifyRequest, workspaceId: string): Promise<WorkspacePage> {
  const signed = requireSignedIn(request);
  assertWorkspaceAccess(signed.principal, workspaceId);
  const ws = await getWorkspace(ctx, workspaceId);
  const all = await listWorkspaces(ctx, signed.principal, { limit: 500 });
  const workspace = { id: ws.id, name: ws.name };
  const openIncidents = await countOpenIncidents(ctx, ws.id);
  return {
    ...signed,
    workspace,
    workspaces: all.data.map((w) => ({ id: w.id, name: w.name })),
    role: roleOf(signed.principal),
    layout: (title, current) => ({
      title,
      current,
      nonce: request.nonce,
      csrf: signed.session.csrfToken,
      user: { email: signed.session.user.email, role: signed.session.user.role },
      workspace,
      workspaces: all.data.map((w) => ({ id: w.id, name: w.name })),
      openIncidents,
    }),
  };
}

const RANK = { viewer: 0, member: 1, admin: 2 } as const;

/** The role an action needs, or a 403 that says which role it needs. */
export function requireRole(page: { role: keyof typeof RANK }, needed: keyof typeof RANK, what: string): void {
  if (RANK[page.role] < RANK[needed]) throw new ForbiddenError(`${what} needs the ${needed} role (your role is ${page.role})`);
}
