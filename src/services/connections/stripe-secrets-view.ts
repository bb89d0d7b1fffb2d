// What the settings page shows of the Stripe connection to an admin: each signing secret as a fingerprint (to
// remove it by) and its last four characters, the API key's mode and last four, and the webhook endpoints this
// workspace created in Stripe with their event lists. Never a whole secret; a viewer gets none of it.
import { createHash } from 'node:crypto';
import { STRIPE_HANDLED_TYPES } from '../../crm/handlers.js';
import { findConnection, type ConnectionRow } from '../../db/queries/connections.js';
import type { Ctx } from '../context.js';
import { sealedSecretsReadable } from './open-sealed-secrets.js';
import { openStripeSecrets } from './stripe-connection.js';

export interface MaskedSecret {
  /** A short hash of the secret: names it in a form without showing it. */
  fingerprint: string;
  /** `whsec_…abcd` */
  masked: string;
}

export interface ManagedEndpointRecord {
  id: string;
  url: string;
  enabledEvents: string[];
  createdAt: string | null;
}

export interface StripeSecretsView {
  signingSecrets: MaskedSecret[];
  apiKey: { masked: string; mode: 'test' | 'live' } | null;
}

export function secretFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

function mask(secret: string, prefix: string): string {
  return `${prefix}…${secret.slice(-4)}`;
}

/** The endpoints "Generate base webhook" created, as recorded in the connection's settings (no secret there). */
export function managedEndpoints(row: ConnectionRow | undefined): ManagedEndpointRecord[] {
  const list = Array.isArray(row?.settings.endpoints) ? (row.settings.endpoints as Record<string, unknown>[]) : [];
  return list.map((e) => ({
    id: String(e.id ?? ''),
    url: String(e.url ?? ''),
    enabledEvents: Array.isArray(e.enabledEvents) ? e.enabledEvents.map(String) : [],
    createdAt: typeof e.createdAt === 'string' ? e.createdAt : null,
  }));
}

export async function stripeManagedEndpoints(ctx: Ctx, workspaceId: string): Promise<ManagedEndpointRecord[]> {
  return managedEndpoints(await findConnection(ctx.db, workspaceId, 'stripe'));
}

/** For admins only (the caller checks the role). Undefined when not connected or the master key cannot open it. */
export async function stripeSecretsView(ctx: Ctx, workspaceId: string): Promise<StripeSecretsView | undefined> {
  const row = await findConnection(ctx.db, workspaceId, 'stripe');
  if (!row || !sealedSecretsReadable(ctx, row)) return undefined;
  const secrets = openStripeSecrets(ctx, row);
  return {
    signingSecrets: secrets.webhookSecrets.map((s) => ({ fingerprint: secretFingerprint(s), masked: mask(s, 'whsec_') })),
    apiKey: secrets.apiKey
      ? {
          masked: mask(secrets.apiKey, secrets.apiKey.slice(0, secrets.apiKey.indexOf('_', 3) + 1)),
          mode: secrets.apiKey.includes('_live_') ? 'live' : 'test',
        }
      : null,
  };
}

/** The event types "Generate base webhook" subscribes to: every type the CRM handles. */
export function baseWebhookEventTypes(): readonly string[] {
  return STRIPE_HANDLED_TYPES;
}
