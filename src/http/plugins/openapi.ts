// The route schemas are the single source of request validation, of the handlers' types and of the API
// document. This plugin makes them so: TypeBox validates every request part (all errors, strings converted
// for query and path), responses are written with JSON.stringify (Fastify's schema serializer would silently
// drop fields a response schema does not list, and turn null into ""), and every route registered anywhere
// in the app, by any plugin, is collected with an onRoute hook so the OpenAPI document can never miss one.
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { checkFirstValidatorCompiler } from './request-validator.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';

/** What a route's schema may carry besides the request parts and responses, for the document. */
export interface RouteDocs {
  summary?: string;
  description?: string;
  tags?: string[];
  /** Set on routes that take no bearer token under /api/v1; everything else under /api/v1 requires one. */
  public?: boolean;
  /** The route's own bearer scheme instead of the admin token / API key (the cron route's SLUICE_CRON_SECRET). */
  security?: 'cronSecret';
  /** An OpenAPI requestBody for routes whose body is not JSON validated by a schema (raw or form bodies). */
  bodyDoc?: Record<string, unknown>;
}

export interface RegisteredRoute {
  method: string;
  url: string;
  schema: (FastifySchema & RouteDocs) | undefined;
  /** The route config that auth.ts enforces, for the document to say who may call it. */
  config?: { role?: string; instanceAdmin?: string };
}

/** Who may call a bearer route, as the auth hook decides it (plugins/auth.ts): reads take any role, changes a member
 *  or admin, `adminOnly` routes an admin, instance-wide actions the admin token or an admin of every workspace. */
function accessOf(route: RegisteredRoute): 'viewer' | 'member' | 'admin' | 'instance-admin' {
  if (route.config?.instanceAdmin !== undefined) return 'instance-admin';
  if (route.config?.role === 'admin') return 'admin';
  return ['GET', 'HEAD', 'OPTIONS'].includes(route.method) ? 'viewer' : 'member';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the app as registered, HEAD variants excepted. */
    registeredRoutes: RegisteredRoute[];
  }
}

/** The capabilities the routes are grouped by in the document, in this order. */
export const TAGS: { name: string; description: string }[] = [
  {
    name: 'webhooks',
    description:
      "Inbound provider webhooks: verified, stored durably, then acknowledged. No bearer token: the provider's signature is the proof.",
  },
  { name: 'workspaces', description: 'Workspaces, their API keys, health and CRM rebuilds.' },
  { name: 'connections', description: 'Stripe and Piano credentials (write-only), Stripe webhook endpoints, Piano proxy destinations.' },
  { name: 'events', description: 'Stored provider events and custom events.' },
  { name: 'crm', description: 'Customers, subscriptions, access, invoices, payments, checkout sessions, products, prices and messages.' },
  { name: 'outbound', description: 'Outbound endpoints, deliveries and REST Hooks.' },
  { name: 'workflows', description: 'Workflows: definitions and versions, runs and their steps, dry runs, replays, workspace secrets.' },
  {
    name: 'parity',
    description: 'Parity checks (does every customer have exactly the access they pay for), their run history, one customer’s parity.',
  },
  {
    name: 'incidents',
    description:
      'Problems Sluice found (parity, lag, backlog, missed webhooks, failed scans, disabled endpoints) and what people do about them.',
  },
  {
    name: 'schedules',
    description: 'Scheduled work started from outside: the daily scan for hosted schedulers, authorized by SLUICE_CRON_SECRET.',
  },
  { name: 'users', description: 'People who sign in to the console, and the audit log of credentials and settings.' },
  { name: 'ops', description: 'Liveness, readiness, Prometheus metrics and this document. No bearer token.' },
];

/** Plain JSON: TypeBox marks its schemas with symbol keys that are no part of the document. */
const plain = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

function operationId(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1/, '')
    .split(/[/-]/)
    .filter(Boolean)
    .map((w) => (w.startsWith(':') ? `by ${w.slice(1)}` : w))
    .join(' ')
    .split(' ');
  return [method.toLowerCase(), ...words].map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

function parameters(schema: unknown, where: 'path' | 'query' | 'header'): Record<string, unknown>[] {
  if (!schema) return [];
  const s = plain(schema);
  const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function responses(schema: FastifySchema['response']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, raw] of Object.entries((schema ?? {}) as Record<string, unknown>)) {
    const s = plain(raw);
    const description = typeof s.description === 'string' ? s.description : Number(status) < 400 ? 'success' : 'an error';
    if (s.type === 'null') out[status] = { description };
    else if (s.type === 'string') out[status] = { description, content: { 'text/plain': { schema: s } } };
    else out[status] = { description, content: { 'application/json': { schema: s } } };
  }
  return out;
}

function requestBody(schema: FastifySchema & RouteDocs): Record<string, unknown> | undefined {
  if (schema.bodyDoc) return schema.bodyDoc;
  if (!schema.body) return undefined;
  const s = plain(schema.body);
  // An optional body is modelled as "object or null" (Fastify validates a missing body as null).
  const branches = (s.anyOf ?? []) as Record<string, unknown>[];
  const optional = branches.some((b) => b.type === 'null');
  const content = optional ? branches.find((b) => b.type !== 'null')! : s;
  return { required: !optional, content: { 'application/json': { schema: content } } };
}

export function buildOpenApiDocument(routes: readonly RegisteredRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  for (const route of sorted) {
    const schema = route.schema ?? {};
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const bearer = route.url.startsWith('/api/v1/') && !schema.public;
    const body = requestBody(schema);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: operationId(route.method, route.url),
      ...(schema.summary ? { summary: schema.summary } : {}),
      ...(schema.description ? { description: schema.description } : {}),
      tags: schema.tags ?? [],
      parameters: [
        ...parameters(schema.params, 'path'),
        ...parameters(schema.querystring, 'query'),
        ...parameters(schema.headers, 'header'),
      ],
      ...(body ? { requestBody: body } : {}),
      responses: responses(schema.response),
      security: schema.security && !schema.public ? [{ [schema.security]: [] }] : bearer ? [{ bearer: [] }] : [],
      ...(bearer && !schema.security ? { 'x-sluice-access': accessOf(route) } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice API',
      version,
      description:
        'Inbound Stripe and Piano webhooks, the management API under /api/v1 and the ops routes. Errors are {"error":{"code","message"}}; ' +
        'a malformed request is 400 VALIDATION_FAILED with every problem listed in error.problems.',
    },
    tags: TAGS,
    security: [],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the admin token (SLUICE_ADMIN_TOKEN) or an API key of one workspace' },
        cronSecret: { type: 'http', scheme: 'bearer', description: 'SLUICE_CRON_SECRET, for GET|POST /api/v1/cron/scan only' },
      },
    },
    paths,
  };
}

/** The HTTP API the document describes: /api/v1, the inbound webhooks and the ops routes. Everything else is a
 *  console page (HTML for people, not a contract for programs) and stays out of it. */
export function isApiRoute(url: string): boolean {
  return /^\/(api\/|webhooks\/|healthz$|readyz$|metrics$)/.test(url);
}

/** Call before any route is registered (the onRoute hook only sees routes added after it). */
export function registerOpenApi(app: FastifyInstance, version = '0.1.0'): void {
  app.setValidatorCompiler(checkFirstValidatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      // HEAD twins of GET routes are added by Fastify itself; the document lists the GET.
      if (method !== 'HEAD' && isApiRoute(route.url))
        routes.push({
          method,
          url: route.url,
          schema: route.schema as RegisteredRoute['schema'],
          config: route.config as RegisteredRoute['config'],
        });
    }
  });

  let document: string | undefined;
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        summary: 'This API as an OpenAPI 3.1 document',
        description: 'Served without a token: it holds no data, only the shape of every route (the same as docs/api.md).',
        tags: ['ops'],
        public: true,
        response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true, description: 'the OpenAPI 3.1 document' }) },
      } as FastifySchema & RouteDocs,
    },
    // Built on first request: by then every plugin has registered its routes.
    async (_request, reply) => reply.type('application/json').send((document ??= JSON.stringify(buildOpenApiDocument(routes, version)))),
  );
}
