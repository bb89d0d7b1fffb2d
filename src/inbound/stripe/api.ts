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

export async function createStripeClient(apiKey: string, apiUrl: URL): Promise<StripeClient> {
  const Sdk = await loadSdk();
  const protocol = apiUrl.protocol === 'http:' ? 'http' : 'https';
  return new Sdk(apiKey, {
    host: apiUrl.hostname,
    port: apiUrl.port || (protocol === 'http' ? 80 : 443),
    protocol,
    // One quick retry for a dropped connection; the processing queue retries anything longer.
    maxNetworkRetries: 1,
    timeout: 15_000,
    appInfo: { name: 'sluice' },
  });
}

export type StripeFailureKind = 'auth' | 'permission' | 'not_found' | 'invalid' | 'network' | 'other';

export interface StripeFailure {
  kind: StripeFailureKind;
  message: string;
}

const KEY_PATTERN = /\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g;

export function describeStripeError(err: unknown): StripeFailure {
  const e = err as { type?: string; code?: string; statusCode?: number; message?: string };
  const message = String(e?.message ?? err).replace(KEY_PATTERN, '$1_$2_…');
  switch (e?.type) {
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
