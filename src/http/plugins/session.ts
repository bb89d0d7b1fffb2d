// Console sessions on HTTP: the cookies, the session of a request, and CSRF. Forms carry the session's token in a
// hidden `_csrf` field and htmx requests in an `X-CSRF-Token` header (set once on <body>); a request that changes
// anything without it is refused, whatever its cookie says. Before sign-in (the login and setup forms) the token
// is a double-submit cookie. Origin, when the browser sends it, must be this site too.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { constantTimeEqual } from '../../lib/hash.js';

export const SESSION_COOKIE = 'sluice_session';
export const PRE_SESSION_CSRF_COOKIE = 'sluice_csrf';

export function readCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header || header.length > 8192) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name in out) continue; // the first one wins, as browsers send the most specific first
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // a value that is not valid percent-encoding is ignored, like a missing cookie
    }
  }
  return out;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the console when SLUICE_PUBLIC_URL is https: the site is served over https by a proxy in front. */
    publicHttps?: boolean;
  }
}

/** Secure only over https: a cookie marked Secure is never sent back over plain http, which would lock out
 *  someone running Sluice on localhost. Sluice serves plain http itself, so in the deployment the docs recommend
 *  (TLS at a reverse proxy) `request.protocol` is https only when the proxy is listed in SLUICE_TRUST_PROXY and
 *  sends X-Forwarded-Proto (Fastify believes no one else's). Without that the session cookie went out without Secure
 *  and a browser would send it over any plain-http request to the same host, so an https SLUICE_PUBLIC_URL makes
 *  every cookie Secure too. X-Forwarded-Proto can only add Secure: with an https public URL it changes nothing. */
function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https' || request.publicHttps === true;
}

export function setCookie(request: FastifyRequest, reply: FastifyReply, name: string, value: string, maxAgeSeconds?: number): void {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  if (isHttps(request)) parts.push('Secure');
  const existing = reply.getHeader('set-cookie');
  const list = Array.isArray(existing) ? existing.map(String) : existing === undefined ? [] : [String(existing)];
  reply.header('set-cookie', [...list, parts.join('; ')]);
}

export function clearCookie(request: FastifyRequest, reply: FastifyReply, name: string): void {
  setCookie(request, reply, name, '', 0);
}

export class CsrfError extends AppError {
  constructor() {
    super('CSRF_TOKEN_INVALID', 'the form was sent without its security token, or from another site; reload the page and try again', 403);
  }
}

/** The token a form or htmx request sent back. */
export function sentCsrfToken(request: FastifyRequest): string | undefined {
  const header = request.headers['x-csrf-token'];
  if (typeof header === 'string') return header;
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?._csrf === 'string' ? body._csrf : undefined;
}

/** A browser's Origin (or Referer) naming another site: refused even with a token. */
function crossSite(request: FastifyRequest): boolean {
  const origin = request.headers.origin ?? request.headers.referer;
  if (typeof origin !== 'string' || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

export function assertCsrf(request: FastifyRequest, expected: string): void {
  const sent = sentCsrfToken(request);
  if (!sent || !constantTimeEqual(sent, expected) || crossSite(request)) throw new CsrfError();
}

/** The pre-session token of the login and setup forms: reused while its cookie lives, else a new one. */
export function preSessionCsrf(request: FastifyRequest, reply: FastifyReply): string {
  const existing = readCookies(request.headers.cookie)[PRE_SESSION_CSRF_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{32}$/.test(existing)) return existing;
  const token = randomBytes(24).toString('base64url');
  setCookie(request, reply, PRE_SESSION_CSRF_COOKIE, token);
  return token;
}

export function assertPreSessionCsrf(request: FastifyRequest): void {
  const cookie = readCookies(request.headers.cookie)[PRE_SESSION_CSRF_COOKIE];
  if (!cookie) throw new CsrfError();
  assertCsrf(request, cookie);
}
