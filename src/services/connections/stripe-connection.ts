// Stripe credentials of a workspace: signing secrets (several at once during a rotation) and an optional API
// key. Stored sealed with the master key; the API only ever says how many there are.
import { findConnection, lockConnection, upsertConnection, type ConnectionRow } from '../../db/queries/connections.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ProviderNotConnectedError, SecretUnreadableError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { changeInboundSettings } from '../ingest/inbound-runtime.js';
import { asObject, oneOf, optionalBoolean } from '../input.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import { openSealedSecrets, sealedSecretsReadable } from './open-sealed-secrets.js';
import { webhookUrls } from '../workspaces/workspace-view.js';

export interface StripeSecrets {
  webhookSecrets: string[];
  apiKey?: string;
}

export interface StripeConnectionView {
  provider: 'stripe';
  webhookUrl: string;
  webhookSecretCount: number;
  hasApiKey: boolean;
  mode: 'test' | 'live' | null;
  /** False while webhooks are switched off: they are answered 503 (Stripe retries them) and nothing is stored. */
  enabled: boolean;
  /** False when the master key cannot open the stored secrets (counts then read 0 until they are saved again). */
  secretsReadable: boolean;
  updatedAt: string;
}

export function openStripeSecrets(ctx: Ctx, connection: ConnectionRow): StripeSecrets {
  return openSealedSecrets<StripeSecrets>(ctx, connection);
}

/** Whether webhooks are taken in; a connection saved before the switch existed is on. */
export function stripeEnabled(row: ConnectionRow): boolean {
  return row.settings.enabled !== false;
}

/** The connection's mode; null (unset) means test and live events are both processed. */
export function stripeMode(row: ConnectionRow): 'test' | 'live' | null {
  const mode = row.settings.mode;
  return mode === 'test' || mode === 'live' ? mode : null;
}

function view(ctx: Ctx, row: ConnectionRow, secrets: StripeSecrets | undefined): StripeConnectionView {
  return {
    provider: 'stripe',
    webhookUrl: webhookUrls(ctx, row.workspaceId).stripe,
    webhookSecretCount: secrets?.webhookSecrets.length ?? 0,
    hasApiKey: secrets?.apiKey !== undefined,
    mode: stripeMode(row),
    enabled: stripeEnabled(row),
    secretsReadable: secrets !== undefined,
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function parseSecrets(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 10) {
    throw new ValidationError('webhookSecrets must be a list of 1 to 10 Stripe signing secrets (whsec_…)', { field: 'webhookSecrets' });
  }
  const out: string[] = [];
  raw.forEach((s, i) => {
    // The message names the position and what is wrong, never the value: it is a secret.
    const format = 'a Stripe signing secret is "whsec_" followed by at least 4 characters (copy it from the endpoint\'s page in Stripe)';
    if (typeof s !== 'string') {
      throw new ValidationError(`webhookSecrets[${i}] must be a string; ${format}`, { field: 'webhookSecrets' });
    }
    if (!s.startsWith('whsec_')) {
      throw new ValidationError(`webhookSecrets[${i}] does not start with whsec_; ${format}`, { field: 'webhookSecrets' });
    }
    if (s.length < 10) {
      throw new ValidationError(`webhookSecrets[${i}] is too short (${s.length} characters); ${format}`, { field: 'webhookSecrets' });
    }
    if (s.length > 200) {
      throw new ValidationError(`webhookSecrets[${i}] is too long (${s.length} characters, at most 200); ${format}`, {
        field: 'webhookSecrets',
      });
    }
    if (/\s/.test(s)) {
      throw new ValidationError(`webhookSecrets[${i}] contains whitespace; copy the secret again without spaces or line breaks`, {
        field: 'webhookSecrets',
      });
    }
    if (!out.includes(s)) out.push(s);
  });
  return out;
}

export function parseApiKey(raw: unknown): string | undefined {
  if (raw === null) return undefined;
  if (typeof raw !== 'string' || !/^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$/.test(raw)) {
    throw new ValidationError('apiKey must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…), or null to remove it', {
      field: 'apiKey',
    });
  }
  return raw;
}

/** PUT semantics per field: a field that is present replaces the stored value, an absent one keeps it. Recorded
 *  in the audit log as done by `actor` (which fields changed, never a value). */
export async function setStripeConnection(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor): Promise<StripeConnectionView> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !['webhookSecrets', 'apiKey', 'mode', 'enabled'].includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}`);
  const webhookSecrets = body.webhookSecrets === undefined ? undefined : parseSecrets(body.webhookSecrets);
  const apiKey = body.apiKey === undefined ? undefined : parseApiKey(body.apiKey);
  const mode = oneOf(body.mode, 'mode', ['test', 'live'] as const);
  const enabled = optionalBoolean(body, 'enabled');

  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const saved = await changeInboundSettings(ctx, workspaceId, async (tx) => {
    const existing = await lockConnection(tx, workspaceId, 'stripe');
    // Secrets sealed with another master key can be replaced, but only as a whole: keeping "the rest" of
    // what cannot be read is impossible, and silently dropping it would lose an API key.
    const unreadable = existing !== undefined && !sealedSecretsReadable(ctx, existing);
    if (unreadable && (body.webhookSecrets === undefined || body.apiKey === undefined)) {
      throw new SecretUnreadableError('stripe');
    }
    const current: StripeSecrets = existing && !unreadable ? openStripeSecrets(ctx, existing) : { webhookSecrets: [] };
    const next: StripeSecrets = {
      webhookSecrets: webhookSecrets ?? current.webhookSecrets,
      ...(body.apiKey === undefined ? (current.apiKey ? { apiKey: current.apiKey } : {}) : apiKey ? { apiKey } : {}),
    };
    if (next.webhookSecrets.length === 0 && next.apiKey === undefined) {
      throw new ValidationError('give webhookSecrets (to receive webhooks) or an apiKey (to create the endpoint through Stripe)');
    }
    const settings = { ...(existing?.settings ?? {}), ...(mode ? { mode } : {}), ...(enabled === undefined ? {} : { enabled }) };
    const row = await upsertConnection(tx, {
      workspaceId,
      provider: 'stripe',
      settings,
      secretsSealed: ctx.secretBox.seal(JSON.stringify(next)),
    });
    ctx.log.info({ workspaceId, secrets: next.webhookSecrets.length, hasApiKey: next.apiKey !== undefined }, 'stripe connection saved');
    return view(ctx, row, next);
  });
  await recordAudit(ctx, actor, workspaceId, 'stripe.connection.saved', 'stripe', {
    ...(webhookSecrets === undefined ? {} : { webhookSecrets: `replaced (${saved.webhookSecretCount} now)` }),
    ...(body.apiKey === undefined ? {} : { apiKey: apiKey ? 'set' : 'removed' }),
    ...(mode ? { mode } : {}),
    ...(enabled === undefined ? {} : { enabled }),
  });
  return saved;
}

export async function getStripeConnection(ctx: Ctx, workspaceId: string): Promise<StripeConnectionView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const row = await findConnection(ctx.db, workspaceId, 'stripe');
  if (!row) throw new ProviderNotConnectedError('stripe');
  return view(ctx, row, sealedSecretsReadable(ctx, row) ? openStripeSecrets(ctx, row) : undefined);
}
