// "Generate base webhook": creates a webhook endpoint in the user's Stripe account pointing at this
// workspace, subscribed to every type the CRM handles (or the types asked for), pinned to the SDK's API
// version, and keeps the signing secret Stripe returns. Calling it again adds another endpoint; its secret
// joins the list, so events signed by either endpoint verify.
import { findConnection, upsertConnection } from '../../db/queries/connections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { STRIPE_HANDLED_TYPES } from '../../crm/handlers.js';
import { ConflictError, ProviderApiError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { notOneLineMessage } from '../../lib/single-line.js';
import {
  createStripeClient,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  type StripeFailure,
  type WebhookEndpointInfo,
} from '../../inbound/stripe/api.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';
import { asObject } from '../input.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import { openStripeSecrets, type StripeSecrets } from './stripe-connection.js';
import { webhookUrls } from '../workspaces/workspace-view.js';

const MAX_SECRETS = 10;
const EVENT_TYPE = /^(\*|[a-z0-9_]+(\.[a-z0-9_]+)+)$/;

export interface ManagedEndpointView {
  endpoint: WebhookEndpointInfo;
  webhookSecretCount: number;
}

function parseEnabledEvents(raw: unknown): string[] {
  if (raw === undefined || raw === null) return STRIPE_HANDLED_TYPES;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 500) {
    throw new ValidationError('enabledEvents must be a list of 1 to 500 Stripe event types (e.g. "invoice.paid", or "*")', {
      field: 'enabledEvents',
    });
  }
  raw.forEach((t, i) => {
    if (typeof t !== 'string' || !EVENT_TYPE.test(t)) {
      throw new ValidationError(`enabledEvents[${i}] is not a Stripe event type (like "invoice.paid", or "*")`, { field: 'enabledEvents' });
    }
  });
  return [...new Set(raw as string[])];
}

export function stripeFailureError(f: StripeFailure, action: string): ProviderApiError {
  switch (f.kind) {
    case 'auth':
      return new ProviderApiError('STRIPE_AUTH_FAILED', `Stripe refused the workspace's API key while ${action}: ${f.message}`, 400);
    case 'permission':
      return new ProviderApiError(
        'STRIPE_PERMISSION_DENIED',
        `the workspace's API key may not do this while ${action} (a restricted key needs "Webhook Endpoints: write"): ${f.message}`,
        400,
      );
    case 'invalid':
    case 'not_found':
      return new ProviderApiError('STRIPE_REQUEST_REJECTED', `Stripe rejected the request while ${action}: ${f.message}`, 400);
    default:
      return new ProviderApiError('STRIPE_UNAVAILABLE', `Stripe could not be reached while ${action}; try again: ${f.message}`, 502);
  }
}

export async function createStripeEndpoint(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor): Promise<ManagedEndpointView> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !['enabledEvents', 'description'].includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}`);
  const enabledEvents = parseEnabledEvents(body.enabledEvents);
  if (body.description !== undefined && (typeof body.description !== 'string' || body.description.length > 500)) {
    throw new ValidationError('description must be a string of at most 500 characters', { field: 'description' });
  }
  const notOneLine = typeof body.description === 'string' ? notOneLineMessage('description', body.description) : null;
  if (notOneLine) throw new ValidationError(notOneLine, { field: 'description' });

  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const connection = await findConnection(ctx.db, workspaceId, 'stripe');
  const secrets: StripeSecrets = connection ? openStripeSecrets(ctx, connection) : { webhookSecrets: [] };
  if (!secrets.apiKey) {
    throw new ConflictError(
      'STRIPE_API_KEY_MISSING',
      'the workspace has no Stripe API key: set one with PUT …/connections/stripe {"apiKey":"sk_…"} first',
    );
  }
  if (secrets.webhookSecrets.length >= MAX_SECRETS) {
    throw new ConflictError(
      'TOO_MANY_SECRETS',
      `the workspace already keeps ${MAX_SECRETS} signing secrets; remove old ones with PUT …/connections/stripe first`,
    );
  }

  const url = webhookUrls(ctx, workspaceId).stripe;
  const stripe = await createStripeClient(secrets.apiKey, ctx.config.stripeApiUrl);
  // The network call happens outside any transaction; the secret is stored right after.
  const created = await createWebhookEndpoint(stripe, {
    url,
    enabledEvents,
    description: typeof body.description === 'string' ? body.description : `Sluice workspace ${workspaceId}`,
    metadata: { sluice_workspace: workspaceId },
  });
  if (!created.ok) {
    const hint =
      created.failure.kind === 'invalid' && /url/i.test(created.failure.message)
        ? ` (the URL was ${url}; set SLUICE_PUBLIC_URL to an https address Stripe can reach)`
        : '';
    const error = stripeFailureError(created.failure, 'creating the webhook endpoint');
    throw new ProviderApiError(error.code, error.message + hint, error.status as 400 | 502);
  }

  try {
    const count = await changeInboundSettings(ctx, workspaceId, async (tx) => {
      const current = await findConnection(tx, workspaceId, 'stripe');
      const now = current ? openStripeSecrets(ctx, current) : secrets;
      const next: StripeSecrets = { ...now, webhookSecrets: [...now.webhookSecrets, created.secret] };
      const endpoints = Array.isArray(current?.settings.endpoints) ? (current.settings.endpoints as unknown[]) : [];
      await upsertConnection(tx, {
        workspaceId,
        provider: 'stripe',
        settings: {
          ...(current?.settings ?? {}),
          endpoints: [...endpoints, { id: created.endpoint.id, url, enabledEvents, createdAt: new Date(ctx.now()).toISOString() }],
        },
        secretsSealed: ctx.secretBox.seal(JSON.stringify(next)),
      });
      return next.webhookSecrets.length;
    });
    ctx.log.info({ workspaceId, endpointId: created.endpoint.id, events: enabledEvents.length }, 'stripe webhook endpoint created');
    await recordAudit(ctx, actor, workspaceId, 'stripe.endpoint.created', created.endpoint.id, {
      events: enabledEvents.length,
      signingSecrets: count,
    });
    return { endpoint: created.endpoint, webhookSecretCount: count };
  } catch (err) {
    // Without its secret the endpoint's deliveries could never verify: take it back out of Stripe.
    const removed = await deleteWebhookEndpoint(stripe, created.endpoint.id);
    ctx.log.error({ workspaceId, endpointId: created.endpoint.id, removed, err }, 'could not store the new endpoint secret');
    throw err;
  }
}
