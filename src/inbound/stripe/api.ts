// Calls to Stripe's REST API through the official SDK: refetching an object to settle a same-second tie,
// creating and listing webhook endpoints. The API base is configurable (SLUICE_STRIPE_API_URL) so tests and
// stripe-mock can stand in for api.stripe.com. Failures are returned as values with a message that is safe to
// show: keys are masked, whatever Stripe put in the text.
import type Stripe from 'stripe';

export type StripeClient = Stripe;

// The SDK is loaded on the first call to Stripe, not at start: most processes never make one (webhooks are
// verified without it), and it is about 10 MB of resident memory once loaded.
let sdk: Promise<typeof Stripe> | undefined;
function loadSdk(): Promise<typeof Stripe> {
  sdk ??= import('stripe').then((m) => m.default);
  return sdk;
}

/** The API version the SDK is pinned to; managed endpoints are created with it so payloads match the SDK. */
export async function stripeApiVersion(): Promise<string> {
  return (await loadSdk()).API_VERSION;
}

export async function createStripeClient(apiKey: string, apiUrl: URL, opts: { maxNetworkRetries?: number } = {}): Promise<StripeClient> {
  const Sdk = await loadSdk();
  const protocol = apiUrl.protocol === 'http:' ? 'http' : 'https';
  return new Sdk(apiKey, {
    host: apiUrl.hostname,
    port: apiUrl.port || (protocol === 'http' ? 80 : 443),
    protocol,
    // One quick retry for a dropped connection; the processing queue retries anything longer. A scan passes 0:
    // it retries by itself, honouring Retry-After, which the SDK does not.
    maxNetworkRetries: opts.maxNetworkRetries ?? 1,
    timeout: 15_000,
    appInfo: { name: 'sluice' },
  });
}

export type StripeFailureKind = 'auth' | 'permission' | 'not_found' | 'invalid' | 'rate_limit' | 'network' | 'other';

export interface StripeFailure {
  kind: StripeFailureKind;
  message: string;
  /** The HTTP status, when Stripe answered. */
  status?: number;
  /** Stripe-Should-Retry, when Stripe said. */
  shouldRetry?: boolean;
  /** Retry-After in seconds, when Stripe said. */
  retryAfterSeconds?: number;
}

const KEY_PATTERN = /\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g;

export function describeStripeError(err: unknown): StripeFailure {
  const described = describeKind(err);
  const e = err as { statusCode?: number; headers?: Record<string, string | undefined> };
  const headers = e?.headers ?? {};
  const shouldRetry = headers['stripe-should-retry'];
  const retryAfter = Number(headers['retry-after']);
  return {
    ...described,
    ...(typeof e?.statusCode === 'number' ? { status: e.statusCode } : {}),
    ...(shouldRetry === 'true' || shouldRetry === 'false' ? { shouldRetry: shouldRetry === 'true' } : {}),
    ...(headers['retry-after'] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
  };
}

function describeKind(err: unknown): StripeFailure {
  const e = err as { type?: string; code?: string; statusCode?: number; message?: string };
  const message = String(e?.message ?? err).replace(KEY_PATTERN, '$1_$2_…');
  switch (e?.type) {
    case 'StripeRateLimitError':
      return { kind: 'rate_limit', message };
    case 'StripeAuthenticationError':
      return { kind: 'auth', message };
    case 'StripePermissionError':
      return { kind: 'permission', message };
    case 'StripeConnectionError':
      return { kind: 'network', message };
    case 'StripeInvalidRequestError':
      return { kind: e.statusCode === 404 || e.code === 'resource_missing' ? 'not_found' : 'invalid', message };
    default:
      return { kind: 'other', message };
  }
}

type Retriever = (stripe: StripeClient, id: string) => Promise<unknown>;

// Object id prefix → how to fetch the current object. Only the objects the CRM keeps are listed.
const RETRIEVERS: [string, Retriever][] = [
  ['cus_', (s, id) => s.customers.retrieve(id)],
  ['sub_', (s, id) => s.subscriptions.retrieve(id)],
  ['in_', (s, id) => s.invoices.retrieve(id)],
  ['pi_', (s, id) => s.paymentIntents.retrieve(id)],
  ['ch_', (s, id) => s.charges.retrieve(id)],
  ['py_', (s, id) => s.charges.retrieve(id)],
  ['dp_', (s, id) => s.disputes.retrieve(id)],
  ['du_', (s, id) => s.disputes.retrieve(id)],
  ['cs_', (s, id) => s.checkout.sessions.retrieve(id)],
  ['prod_', (s, id) => s.products.retrieve(id)],
  ['price_', (s, id) => s.prices.retrieve(id)],
  ['plan_', (s, id) => s.prices.retrieve(id)],
];

export function canRetrieve(objectId: string): boolean {
  return RETRIEVERS.some(([prefix]) => objectId.startsWith(prefix));
}

export async function retrieveObject(
  stripe: StripeClient,
  objectId: string,
): Promise<{ ok: true; object: Record<string, unknown> } | { ok: false; failure: StripeFailure }> {
  const entry = RETRIEVERS.find(([prefix]) => objectId.startsWith(prefix));
  if (!entry) return { ok: false, failure: { kind: 'invalid', message: `no way to fetch ${objectId}` } };
  try {
    const object = (await entry[1](stripe, objectId)) as unknown as Record<string, unknown>;
    // The SDK adds a lastResponse property; it is not part of the object.
    const { lastResponse: _lastResponse, ...rest } = object as Record<string, unknown> & { lastResponse?: unknown };
    return { ok: true, object: rest };
  } catch (err) {
    return { ok: false, failure: describeStripeError(err) };
  }
}

export interface WebhookEndpointInfo {
  id: string;
  url: string;
  status: string;
  enabledEvents: string[];
  apiVersion: string | null;
}

function endpointInfo(e: Stripe.WebhookEndpoint): WebhookEndpointInfo {
  return { id: e.id, url: e.url, status: e.status, enabledEvents: [...e.enabled_events], apiVersion: e.api_version ?? null };
}

export async function createWebhookEndpoint(
  stripe: StripeClient,
  input: { url: string; enabledEvents: string[]; description: string; metadata: Record<string, string> },
): Promise<{ ok: true; endpoint: WebhookEndpointInfo; secret: string } | { ok: false; failure: StripeFailure }> {
  try {
    const created = await stripe.webhookEndpoints.create({
      url: input.url,
      enabled_events: input.enabledEvents as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
      api_version: (await stripeApiVersion()) as Stripe.WebhookEndpointCreateParams.ApiVersion,
      description: input.description,
      metadata: input.metadata,
    });
    if (!created.secret) return { ok: false, failure: { kind: 'other', message: 'Stripe did not return a signing secret' } };
    return { ok: true, endpoint: endpointInfo(created), secret: created.secret };
  } catch (err) {
    return { ok: false, failure: describeStripeError(err) };
  }
}

export async function listWebhookEndpoints(
  stripe: StripeClient,
): Promise<{ ok: true; endpoints: WebhookEndpointInfo[] } | { ok: false; failure: StripeFailure }> {
  try {
    const endpoints: WebhookEndpointInfo[] = [];
    for await (const e of stripe.webhookEndpoints.list({ limit: 100 })) {
      endpoints.push(endpointInfo(e));
      if (endpoints.length >= 1000) break;
    }
    return { ok: true, endpoints };
  } catch (err) {
    return { ok: false, failure: describeStripeError(err) };
  }
}

export async function deleteWebhookEndpoint(stripe: StripeClient, id: string): Promise<boolean> {
  try {
    await stripe.webhookEndpoints.del(id);
    return true;
  } catch {
    return false;
  }
}

export type StripeResult<T> = { ok: true; value: T } | { ok: false; failure: StripeFailure };

export interface StripeListPage {
  data: Record<string, unknown>[];
  hasMore: boolean;
}

/** The SDK adds a lastResponse property to what it returns; it is not part of the object. */
function plain(o: unknown): Record<string, unknown> {
  const { lastResponse: _lastResponse, ...rest } = o as Record<string, unknown> & { lastResponse?: unknown };
  return rest;
}

async function page(call: () => Promise<{ data: unknown[]; has_more: boolean }>): Promise<StripeResult<StripeListPage>> {
  try {
    const list = await call();
    if (!list || !Array.isArray(list.data))
      return { ok: false, failure: { kind: 'other', message: 'Stripe answered a list without data' } };
    return { ok: true, value: { data: list.data.map(plain), hasMore: list.has_more === true } };
  } catch (err) {
    return { ok: false, failure: describeStripeError(err) };
  }
}

/**
 * One page of `GET /v1/events`, newest first: events created in [gte, lte] (unix seconds) of the given types
 * (at most 20, Stripe's limit), only those Stripe failed to deliver when `failedOnly`. Never the Search API.
 */
export function listEventsPage(
  stripe: StripeClient,
  q: { gte: number; lte: number; types: string[]; failedOnly: boolean; startingAfter: string | null; limit?: number },
): Promise<StripeResult<StripeListPage>> {
  return page(() =>
    stripe.events.list({
      created: { gte: q.gte, lte: q.lte },
      types: q.types,
      limit: q.limit ?? 100,
      ...(q.failedOnly ? { delivery_success: false } : {}),
      ...(q.startingAfter ? { starting_after: q.startingAfter } : {}),
    }),
  );
}

/** One page of `GET /v1/subscriptions?status=all`, newest first. */
export function listSubscriptionsPage(
  stripe: StripeClient,
  q: { startingAfter: string | null; limit?: number },
): Promise<StripeResult<StripeListPage>> {
  return page(() =>
    stripe.subscriptions.list({ status: 'all', limit: q.limit ?? 100, ...(q.startingAfter ? { starting_after: q.startingAfter } : {}) }),
  );
}
