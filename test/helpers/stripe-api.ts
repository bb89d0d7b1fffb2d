// A local stand-in for Stripe's REST API (the only part of Stripe the tests cannot run): object retrieval and
// webhook endpoints, with Stripe's error format, so the official SDK talks to it unchanged. It records every
// request so tests can assert what the SDK sent.
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
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const form = new URLSearchParams(req.method === 'GET' || req.method === 'DELETE' ? url.search : raw);
      const auth = req.headers.authorization;
      standIn.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        authorization: auth,
        stripeVersion: req.headers['stripe-version'] as string | undefined,
        form,
      });
      if (standIn.failWith) return fail(res, standIn.failWith, 'api_error', 'The stand-in is down.');
      if (auth !== `Bearer ${standIn.apiKey}`) {
        const shown = (auth ?? '').replace(/^Bearer /, '');
        return fail(res, 401, 'invalid_request_error', `Invalid API Key provided: ${shown.slice(0, 8)}****${shown.slice(-4)}`);
      }
      const parts = url.pathname.split('/').filter(Boolean); // ['v1', collection, id?]
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
