// What the API says about an endpoint, and its sealed part: signing secrets (two during a rotation) and the
// custom header values (often credentials for the receiver), neither ever returned after creation.
import type { EndpointKind, EndpointRow, EndpointState } from '../../db/queries/endpoints.js';
import type { Ctx } from '../context.js';

export interface SealedEndpoint {
  /** Newest first; a rotated-out secret carries the time it stops signing. */
  secrets: { secret: string; expiresAt: string | null }[];
  headers: Record<string, string>;
}

export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

export function openEndpoint(ctx: Ctx, row: EndpointRow): SealedEndpoint {
  return JSON.parse(ctx.secretBox.open(row.secrets_sealed)) as SealedEndpoint;
}

export function sealEndpoint(ctx: Ctx, sealed: SealedEndpoint): string {
  return ctx.secretBox.seal(JSON.stringify(sealed));
}

/** The secrets that sign right now: the current one and a rotated-out one still inside its 24 h overlap. */
export function signingSecrets(sealed: SealedEndpoint, now: number): string[] {
  return sealed.secrets.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now).map((s) => s.secret);
}

export interface EndpointView {
  id: string;
  kind: EndpointKind;
  url: string;
  description: string | null;
  eventTypes: string[];
  state: EndpointState;
  /** state === 'enabled', for clients written before states. */
  enabled: boolean;
  disabledReason: string | null;
  rateLimit: number | null;
  /** Names only: values may be credentials. */
  headerNames: string[];
  failingSince: string | null;
  lastSuccessAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toEndpointView(row: EndpointRow): EndpointView {
  return {
    id: row.id,
    kind: row.kind,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types,
    state: row.state,
    enabled: row.state === 'enabled',
    disabledReason: row.disabled_reason,
    rateLimit: row.rate_limit,
    headerNames: Array.isArray(row.headers) ? (row.headers as string[]) : Object.keys(row.headers),
    failingSince: row.failing_since?.toISOString() ?? null,
    lastSuccessAt: row.last_success_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
