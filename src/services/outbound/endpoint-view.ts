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

/** An opened endpoint that must not change: shared by every delivery to it (see openEndpointToSend). */
export interface OpenedEndpoint {
  readonly secrets: readonly Readonly<SealedEndpoint['secrets'][number]>[];
  readonly headers: Readonly<Record<string, string>>;
}

// Opening costs a decryption; a sender opens the same few endpoints for every delivery (about 3 % of its CPU
// under load). Keyed by the sealed text itself: a rotation or a header change seals anew (a fresh IV), so a changed
// endpoint is a different key and a stale entry is never read, only evicted. Bounded, oldest out first.
const OPENED_CACHE_SIZE = 1000;
const opened = new WeakMap<Ctx, Map<string, OpenedEndpoint>>();

/** openEndpoint for the delivery path, from a bounded per-process cache; frozen, never to be re-sealed. */
export function openEndpointToSend(ctx: Ctx, row: EndpointRow): OpenedEndpoint {
  let cache = opened.get(ctx);
  if (!cache) opened.set(ctx, (cache = new Map()));
  const hit = cache.get(row.secrets_sealed);
  if (hit) return hit;
  const fresh = openEndpoint(ctx, row);
  const entry: OpenedEndpoint = Object.freeze({
    secrets: Object.freeze(fresh.secrets.map((x) => Object.freeze(x))),
    headers: Object.freeze(fresh.headers),
  });
  if (cache.size >= OPENED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(row.secrets_sealed, entry);
  return entry;
}

export function sealEndpoint(ctx: Ctx, sealed: SealedEndpoint): string {
  return ctx.secretBox.seal(JSON.stringify(sealed));
}

/** The secrets that sign right now: the current one and a rotated-out one still inside its 24 h overlap. */
export function signingSecrets(sealed: OpenedEndpoint, now: number): string[] {
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
