// A local stand-in for Stripe's REST API (the only part of Stripe the tests cannot run): object retrieval,
// webhook endpoints, the events list (created filters, types, delivery_success, starting_after pages) and the
// subscriptions list (status=all, pages), with Stripe's error format and its 429 (Retry-After,
// Stripe-Should-Retry), so the official SDK talks to it unchanged. It records every request so tests can
// assert what the SDK sent and count them.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StripeApiRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  stripeVersion: string | undefined;
  form: URLSearchParams;
}

export interface StripeEndpoint {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  status: 'enabled' | 'disabled';
  enabled_events: string[];
  api_version: string | null;
  description: string | null;
  metadata: Record<string, string>;
  livemode: false;
  created: number;
}

export interface StripeApiStandIn {
  url: URL;
  apiKey: string;
  /** Objects by id, as GET /v1/<collection>/<id> returns them. */
  objects: Map<string, Record<string, unknown>>;
  endpoints: StripeEndpoint[];
  /** The signing secret handed out (once, in the create answer) for each endpoint id. */
  issuedSecrets: Map<string, string>;
  requests: StripeApiRequest[];
  /** When set, every request is answered with this HTTP status (a Stripe outage). */
  failWith: number | undefined;
  /** Events as GET /v1/events lists them (newest first by `created`). */
  events: Record<string, unknown>[];
  /** Ids of events Stripe failed to deliver (listed with delivery_success=false). */
  undelivered: Set<string>;
  /** The next `count` requests are answered 429, with these headers. */
  rateLimit: { count: number; retryAfter?: string; shouldRetry?: 'true' | 'false' } | undefined;
  /** Called before each answer; a test can hold a request (returning a promise) or count pages. */
  beforeAnswer: ((req: StripeApiRequest) => Promise<void> | void) | undefined;
  /** When set, lists answer this text instead of JSON (a provider answering garbage). */
  garbage: string | undefined;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(6).toString('hex')}` });
  res.end(JSON.stringify(body));
}

function fail(res: http.ServerResponse, status: number, type: string, message: string, code?: string): void {
  send(res, status, { error: { type, message, ...(code ? { code } : {}) } });
}

export async function startStripeApi(apiKey = `sk_test_${randomBytes(12).toString('hex')}`): Promise<StripeApiStandIn> {
  const standIn: Omit<StripeApiStandIn, 'url' | 'close'> = {
    apiKey,
    objects: new Map(),
    endpoints: [],
    issuedSecrets: new Map(),
    requests: [],
    failWith: undefined,
    events: [],
    undelivered: new Set(),
    rateLimit: undefined,
    beforeAnswer: undefined,
    garbage: undefined,
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const form = new URLSearchParams(req.method === 'GET' || req.method === 'DELETE' ? url.search : raw);
      const auth = req.headers.authorization;
      const request: StripeApiRequest = {
        method: req.method ?? '',
        path: url.pathname,
        authorization: auth,
        stripeVersion: req.headers['stripe-version'] as string | undefined,
        form,
      };
      standIn.requests.push(request);
      await standIn.beforeAnswer?.(request);
      if (standIn.failWith) return fail(res, standIn.failWith, 'api_error', 'The stand-in is down.');
      if (standIn.rateLimit && standIn.rateLimit.count > 0) {
        standIn.rateLimit.count -= 1;
        const { retryAfter, shouldRetry } = standIn.rateLimit;
        res.writeHead(429, {
          'content-type': 'application/json',
          ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}),
          ...(shouldRetry !== undefined ? { 'stripe-should-retry': shouldRetry } : {}),
        });
        return res.end(JSON.stringify({ error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests.' } }));
      }
      if (auth !== `Bearer ${standIn.apiKey}`) {
        const shown = (auth ?? '').replace(/^Bearer /, '');
        return fail(res, 401, 'invalid_request_error', `Invalid API Key provided: ${shown.slice(0, 8)}****${shown.slice(-4)}`);
      }
      const parts = url.pathname.split('/').filter(Boolean); // ['v1', collection, id?]
      if (req.method === 'GET' && parts.length === 2 && (parts[1] === 'events' || parts[1] === 'subscriptions')) {
        if (standIn.garbage !== undefined) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(standIn.garbage);
        }
        let items: Record<string, unknown>[];
        if (parts[1] === 'events') {
          const gte = Number(form.get('created[gte]') ?? -Infinity);
          const lte = Number(form.get('created[lte]') ?? Infinity);
          const types = [...form.entries()].filter(([k]) => k.startsWith('types[')).map(([, v]) => v);
          const failedOnly = form.get('delivery_success') === 'false';
          items = standIn.events.filter(
            (e) =>
              Number(e.created) >= gte &&
              Number(e.created) <= lte &&
              (types.length === 0 || types.includes(String(e.type))) &&
              (!failedOnly || standIn.undelivered.has(String(e.id))),
          );
        } else {
          if (form.get('status') !== 'all')
            return fail(res, 400, 'invalid_request_error', 'The stand-in lists subscriptions with status=all only.');
          items = [...standIn.objects.values()].filter((o) => o.object === 'subscription');
        }
        // Newest first, as Stripe lists; the id breaks ties so pages are stable.
        items.sort((a, b) => Number(b.created ?? 0) - Number(a.created ?? 0) || String(b.id).localeCompare(String(a.id)));
        const after = form.get('starting_after');
        if (after) {
          const at = items.findIndex((i) => i.id === after);
          if (at < 0) return fail(res, 400, 'invalid_request_error', `No such object: '${after}'`, 'resource_missing');
          items = items.slice(at + 1);
        }
        const limit = Math.min(100, Math.max(1, Number(form.get('limit') ?? 10)));
        return send(res, 200, { object: 'list', url: `/v1/${parts[1]}`, has_more: items.length > limit, data: items.slice(0, limit) });
      }
      if (parts[1] === 'webhook_endpoints') {
        if (req.method === 'POST' && parts.length === 2) {
          const endpoint: StripeEndpoint = {
            id: `we_${randomBytes(8).toString('hex')}`,
            object: 'webhook_endpoint',
            url: form.get('url') ?? '',
            status: 'enabled',
            enabled_events: [...form.entries()].filter(([k]) => k.startsWith('enabled_events[')).map(([, v]) => v),
            api_version: form.get('api_version'),
            description: form.get('description'),
            metadata: Object.fromEntries(
              [...form.entries()].filter(([k]) => k.startsWith('metadata[')).map(([k, v]) => [k.slice(9, -1), v]),
            ),
            livemode: false,
            created: Math.floor(Date.now() / 1000),
          };
          if (!endpoint.url) return fail(res, 400, 'invalid_request_error', 'Missing required param: url.', 'parameter_missing');
          const secret = `whsec_${randomBytes(24).toString('base64url')}`;
          standIn.endpoints.push(endpoint);
          standIn.issuedSecrets.set(endpoint.id, secret);
          return send(res, 200, { ...endpoint, secret });
        }
        if (req.method === 'GET' && parts.length === 2) {
          return send(res, 200, { object: 'list', url: '/v1/webhook_endpoints', has_more: false, data: standIn.endpoints });
        }
        if (req.method === 'DELETE' && parts[2]) {
          standIn.endpoints = standIn.endpoints.filter((e) => e.id !== parts[2]);
          return send(res, 200, { id: parts[2], object: 'webhook_endpoint', deleted: true });
        }
      }
      if (req.method === 'GET' && parts.length >= 3) {
        const id = parts[parts.length - 1]!;
        const object = standIn.objects.get(id);
        if (object) return send(res, 200, object);
        return fail(res, 404, 'invalid_request_error', `No such object: '${id}'`, 'resource_missing');
      }
      return fail(res, 404, 'invalid_request_error', `Unrecognized request URL (${req.method} ${url.pathname}).`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(standIn, {
    url: new URL(`http://127.0.0.1:${port}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as StripeApiStandIn;
}
