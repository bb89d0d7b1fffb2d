// `sluice doctor`: checks that Stripe can actually reach this workspace and that what it sends will verify and
// be projected. Each check says what it saw and, when it fails, what to do about it.
import { findConnection, type ConnectionRow } from '../../db/queries/connections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { STRIPE_HANDLED_TYPES } from '../../crm/handlers.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import { createStripeClient, listWebhookEndpoints, type WebhookEndpointInfo } from '../../inbound/stripe/api.js';
import type { Ctx } from '../context.js';
import { getHealth } from '../ops/get-health.js';
import { stripeFailureError } from './create-stripe-endpoint.js';
import { openStripeSecrets } from './stripe-connection.js';
import { webhookUrls } from '../workspaces/workspace-view.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  workspaceId: string;
  webhookUrl: string;
  ok: boolean;
  checks: Check[];
}

export async function checkStripeConnection(ctx: Ctx, workspaceId: string): Promise<DoctorReport> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const webhookUrl = webhookUrls(ctx, workspaceId).stripe;
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string, fix?: string) =>
    checks.push({ name, status, detail, ...(fix ? { fix } : {}) });
  const report = () => ({ workspaceId, webhookUrl, ok: checks.every((c) => c.status !== 'fail'), checks });

  const connection = await findConnection(ctx.db, workspaceId, 'stripe');
  if (!connection) {
    add(
      'connection',
      'fail',
      'Stripe is not connected',
      'PUT /api/v1/workspaces/:ws/connections/stripe with an apiKey, then POST …/connections/stripe/endpoints',
    );
    return report();
  }
  const secrets = openStripeSecrets(ctx, connection);
  if (secrets.webhookSecrets.length === 0) {
    add(
      'signing secret',
      'fail',
      'no webhook signing secret: every delivery will be refused',
      'POST …/connections/stripe/endpoints, or PUT …/connections/stripe {"webhookSecrets":["whsec_…"]} with the secret shown in the Stripe dashboard',
    );
  } else {
    add('signing secret', 'ok', `${secrets.webhookSecrets.length} signing secret(s) stored`);
  }

  // What the event log says, independent of the API key.
  const health = (await getHealth(ctx, workspaceId)).providers.stripe!;
  const failure = health.lastSignatureFailure;
  if (failure && (!health.lastEventAt || failure.at > health.lastEventAt)) {
    add(
      'recent deliveries',
      'fail',
      `the last Stripe delivery was refused (${failure.reason} at ${failure.at})${health.lastEventAt ? `; last accepted event ${health.lastEventAt}` : ''}`,
      failure.reason === 'signature_mismatch'
        ? "the stored signing secret does not match the endpoint's: copy it again from the Stripe dashboard"
        : undefined,
    );
  } else if (health.lastEventAt) {
    add('recent deliveries', 'ok', `last event received ${health.lastEventAt}`);
  } else {
    add(
      'recent deliveries',
      'warn',
      'no event received yet',
      'send a test event from the Stripe dashboard or `stripe trigger customer.created`',
    );
  }
  if (health.counts.failed > 0) {
    add(
      'processing',
      'warn',
      `${health.counts.failed} event(s) failed to project`,
      'GET …/events?status=failed, fix the cause, then POST …/events/:id/replay',
    );
  }

  if (!secrets.apiKey) {
    add(
      'api key',
      'skip',
      'no API key: the endpoint in Stripe cannot be checked and same-second ties are settled by rank',
      'PUT …/connections/stripe {"apiKey":"sk_…" or "rk_…"} (a restricted key needs read on Webhook Endpoints and on the objects the CRM keeps)',
    );
    return report();
  }
  checks.push(...(await checkStripeApi(ctx, workspaceId, connection, secrets.apiKey)));
  return report();
}

/** The checks that ask Stripe (the API key, the endpoint pointing here, enabled, subscribed to every handled
 *  type): the doctor's second half, also run on its own by the console's troubleshooting page. */
export async function checkStripeApi(ctx: Ctx, workspaceId: string, connection: ConnectionRow, apiKey: string): Promise<Check[]> {
  const webhookUrl = webhookUrls(ctx, workspaceId).stripe;
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string, fix?: string) =>
    checks.push({ name, status, detail, ...(fix ? { fix } : {}) });
  const listed = await listWebhookEndpoints(await createStripeClient(apiKey, ctx.config.stripeApiUrl));
  if (!listed.ok) {
    const e = stripeFailureError(listed.failure, 'listing webhook endpoints');
    add(
      'api key',
      'fail',
      e.message,
      listed.failure.kind === 'auth' ? 'the key was revoked or mistyped: PUT …/connections/stripe with a current key' : undefined,
    );
    return checks;
  }
  add('api key', 'ok', `the key is accepted by Stripe (${apiKey.includes('_live_') ? 'live' : 'test'} mode)`);

  const recorded = new Set(
    (Array.isArray(connection.settings.endpoints) ? (connection.settings.endpoints as { id?: unknown }[]) : []).map((e) => String(e.id)),
  );
  const mine = listed.endpoints.filter((e) => e.url === webhookUrl);
  const moved = listed.endpoints.filter((e) => recorded.has(e.id) && e.url !== webhookUrl);
  if (mine.length === 0) {
    add(
      'endpoint',
      'fail',
      moved.length > 0
        ? `the endpoint created for this workspace (${moved.map((e) => e.id).join(', ')}) points at ${moved[0]!.url}, not at ${webhookUrl}`
        : `no webhook endpoint in this Stripe account points at ${webhookUrl} (${listed.endpoints.length} endpoint(s) found)`,
      'POST …/connections/stripe/endpoints to create it (set SLUICE_PUBLIC_URL first if Stripe must use another address)',
    );
    return checks;
  }
  add('endpoint', 'ok', `${mine.map((e) => e.id).join(', ')} → ${webhookUrl}`);

  const disabled = mine.filter((e) => e.status !== 'enabled');
  if (disabled.length === mine.length) {
    add(
      'enabled',
      'fail',
      `the endpoint is ${disabled.map((e) => e.status).join(', ')} in Stripe`,
      'enable it in the Stripe dashboard (Developers → Webhooks)',
    );
  } else if (disabled.length > 0) {
    add('enabled', 'warn', `${disabled.map((e) => e.id).join(', ')} disabled; ${mine.length - disabled.length} enabled`);
  } else {
    add('enabled', 'ok', 'enabled');
  }

  const active = mine.filter((e) => e.status === 'enabled');
  const subscribed = new Set(active.flatMap((e: WebhookEndpointInfo) => e.enabledEvents));
  const missing = subscribed.has('*') ? [] : STRIPE_HANDLED_TYPES.filter((t) => !subscribed.has(t));
  if (missing.length > 0) {
    add(
      'events',
      'fail',
      `not subscribed to ${missing.length} of the ${STRIPE_HANDLED_TYPES.length} types the CRM handles: ${missing.join(', ')}`,
      'add them to the endpoint in the Stripe dashboard, or POST …/connections/stripe/endpoints {"enabledEvents":[…]} for an extra endpoint',
    );
  } else {
    add('events', 'ok', `subscribed to all ${STRIPE_HANDLED_TYPES.length} types the CRM handles`);
  }
  return checks;
}
