// Piano credentials of a workspace: the application id, its private key (decrypts and authenticates webhooks)
// and an optional API token (for the Piano API), sealed with the master key; secrets are never returned.
import { findConnection, lockConnection, upsertConnection, type ConnectionRow } from '../../db/queries/connections.js';
import { listEndpoints } from '../../db/queries/endpoints.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { ProviderNotConnectedError, SecretUnreadableError, ValidationError, WorkspaceNotFoundError } from '../../errors.js';
import { PIANO_REGIONS, type PianoRegion } from '../../inbound/piano/api.js';
import type { Ctx } from '../context.js';
import { announceInboundChange } from '../../db/queries/inbound-changes.js';
import { forgetInboundSettings } from '../ingest/inbound-runtime.js';
import { asObject, oneOf, optionalBoolean } from '../input.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import { openSealedSecrets, sealedSecretsReadable } from './open-sealed-secrets.js';
import { webhookUrls } from '../workspaces/workspace-view.js';

export interface PianoSecrets {
  privateKey: string;
  apiToken?: string;
}

export interface PianoSettings {
  aid: string;
  region: PianoRegion;
  /** Refuse `data` without its ~~~HMAC part (default true). */
  requireHmac: boolean;
  /** Link a Piano user and a Stripe customer with the same email as one person (default true). */
  mergeCustomersByEmail: boolean;
}

export interface PianoConnectionView extends PianoSettings {
  provider: 'piano';
  /** The one URL to paste into Piano; it also fans out to the forward destinations (the Piano proxy). */
  webhookUrl: string;
  hasApiToken: boolean;
  /** False when the master key cannot open the stored secrets. */
  secretsReadable: boolean;
  /** Enabled Piano proxy destinations the webhooks are forwarded to. */
  forwards: number;
  updatedAt: string;
}

export function pianoSettings(row: ConnectionRow): PianoSettings {
  const s = row.settings;
  return {
    aid: String(s.aid ?? ''),
    region: (PIANO_REGIONS as readonly string[]).includes(String(s.region)) ? (s.region as PianoRegion) : 'us',
    requireHmac: s.requireHmac !== false,
    mergeCustomersByEmail: s.mergeCustomersByEmail !== false,
  };
}

export function openPianoSecrets(ctx: Ctx, row: ConnectionRow): PianoSecrets {
  return openSealedSecrets<PianoSecrets>(ctx, row);
}

async function view(ctx: Ctx, row: ConnectionRow): Promise<PianoConnectionView> {
  const forwards = (await listEndpoints(ctx.db, { workspaceId: row.workspaceId, kind: 'forward', limit: 500 })).filter(
    (e) => e.enabled,
  ).length;
  const readable = sealedSecretsReadable(ctx, row);
  return {
    provider: 'piano',
    ...pianoSettings(row),
    webhookUrl: webhookUrls(ctx, row.workspaceId).piano,
    hasApiToken: readable && openPianoSecrets(ctx, row).apiToken !== undefined,
    secretsReadable: readable,
    forwards,
    updatedAt: row.updatedAt.toISOString(),
  };
}

const FIELDS = ['aid', 'privateKey', 'apiToken', 'region', 'requireHmac', 'mergeCustomersByEmail'];

/** PUT semantics per field, as for Stripe: present fields replace, absent ones keep; aid and privateKey are needed once. */
export async function setPianoConnection(ctx: Ctx, workspaceId: string, input: unknown, actor: Actor): Promise<PianoConnectionView> {
  const body = asObject(input);
  const unknownFields = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknownFields.length > 0) throw new ValidationError(`unknown field(s): ${unknownFields.join(', ')}; expected ${FIELDS.join(', ')}`);
  if (body.aid !== undefined && (typeof body.aid !== 'string' || !/^[A-Za-z0-9]{4,40}$/.test(body.aid))) {
    throw new ValidationError('aid must be the Piano application id (letters and digits, e.g. "AbCdEf1234")', { field: 'aid' });
  }
  // Messages name the field, never the value: these are secrets.
  if (
    body.privateKey !== undefined &&
    (typeof body.privateKey !== 'string' || body.privateKey.length < 8 || body.privateKey.length > 200 || /\s/.test(body.privateKey))
  ) {
    throw new ValidationError("privateKey must be the application's private key from the Piano dashboard (no spaces)", {
      field: 'privateKey',
    });
  }
  if (
    body.apiToken !== undefined &&
    body.apiToken !== null &&
    (typeof body.apiToken !== 'string' || body.apiToken.length < 8 || /\s/.test(body.apiToken))
  ) {
    throw new ValidationError('apiToken must be the Piano API token, or null to remove it', { field: 'apiToken' });
  }
  const region = oneOf(body.region, 'region', PIANO_REGIONS);
  const requireHmac = optionalBoolean(body, 'requireHmac');
  const mergeCustomersByEmail = optionalBoolean(body, 'mergeCustomersByEmail');
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);

  const row = await ctx.db
    .transaction(async (tx) => {
      const existing = await lockConnection(tx, workspaceId, 'piano');
      // As for Stripe: unreadable secrets are replaced whole (privateKey and apiToken, null to drop it) or not at all.
      const unreadable = existing !== undefined && !sealedSecretsReadable(ctx, existing);
      if (unreadable && (body.privateKey === undefined || body.apiToken === undefined)) throw new SecretUnreadableError('piano');
      const current = existing && !unreadable ? openPianoSecrets(ctx, existing) : undefined;
      const privateKey = (body.privateKey as string | undefined) ?? current?.privateKey;
      const aid = (body.aid as string | undefined) ?? (existing ? pianoSettings(existing).aid : undefined);
      if (!privateKey || !aid) throw new ValidationError('aid and privateKey are required to connect Piano');
      const apiToken = body.apiToken === undefined ? current?.apiToken : ((body.apiToken as string | null) ?? undefined);
      const secrets: PianoSecrets = { privateKey, ...(apiToken ? { apiToken } : {}) };
      const settings = {
        ...(existing?.settings ?? {}),
        aid,
        ...(region ? { region } : {}),
        ...(requireHmac === undefined ? {} : { requireHmac }),
        ...(mergeCustomersByEmail === undefined ? {} : { mergeCustomersByEmail }),
      };
      const row = await upsertConnection(tx, {
        workspaceId,
        provider: 'piano',
        settings,
        secretsSealed: ctx.secretBox.seal(JSON.stringify(secrets)),
      });
      ctx.log.info({ workspaceId, aid, hasApiToken: apiToken !== undefined }, 'piano connection saved');
      await announceInboundChange(tx, workspaceId);
      return row;
    })
    .finally(() => forgetInboundSettings(ctx, workspaceId));
  // Which fields changed; for the keys only whether they were set or removed, never a value.
  await recordAudit(ctx, actor, workspaceId, 'piano.connection.saved', 'piano', {
    ...(body.aid === undefined ? {} : { aid: body.aid }),
    ...(body.privateKey === undefined ? {} : { privateKey: 'set' }),
    ...(body.apiToken === undefined ? {} : { apiToken: body.apiToken === null ? 'removed' : 'set' }),
    ...(region ? { region } : {}),
    ...(requireHmac === undefined ? {} : { requireHmac }),
    ...(mergeCustomersByEmail === undefined ? {} : { mergeCustomersByEmail }),
  });
  return view(ctx, row);
}

export async function getPianoConnection(ctx: Ctx, workspaceId: string): Promise<PianoConnectionView> {
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const row = await findConnection(ctx.db, workspaceId, 'piano');
  if (!row) throw new ProviderNotConnectedError('piano');
  return view(ctx, row);
}
