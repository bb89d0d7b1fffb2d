// What every inbound webhook needs before it can be verified: the workspace (demo flag), its connection to the
// provider and the connection's secrets, decrypted. Looked up once and kept in memory, because on the hot path
// a database round trip and an AES-GCM open per request cost more than the signature check itself.
//
// Staleness is bounded three ways: the services that change workspaces and connections forget the entry in this
// process after their commit and announce the change on PostgreSQL (other instances LISTEN, see
// inbound-runtime.ts); every entry expires after a short TTL in case a notification was missed; and ingest
// retries a failed verification once against a fresh lookup, so a secret added a moment ago on another
// instance never rejects a genuine event.
import { findWorkspaceWithConnection, type ConnectionRow } from '../../db/queries/connections.js';
import type { Ctx } from '../context.js';

export type InboundProvider = 'stripe' | 'piano';

export interface InboundSource {
  demo: boolean;
  connection: ConnectionRow | undefined;
  /** The connection's secrets as opened once with the master key, or why they could not be. */
  secrets: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
}

interface Entry {
  source: InboundSource;
  expiresAt: number;
}

export interface InboundCacheOptions {
  /** How long an entry is trusted without hearing of a change. */
  ttlMs: number;
  /** Entries kept at most (the oldest go first); a flood of requests for many workspaces cannot grow memory. */
  maxEntries: number;
}

export const DEFAULT_INBOUND_CACHE: InboundCacheOptions = { ttlMs: 10_000, maxEntries: 10_000 };

export class InboundCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a lookup that started before one must not store what it read. */
  private epoch = 0;

  constructor(public options: InboundCacheOptions = DEFAULT_INBOUND_CACHE) {}

  /**
   * The workspace and its connection to `provider`, from memory when fresh enough; undefined when the
   * workspace does not exist (not remembered: a workspace created a moment later must be found). `cached`
   * says whether the answer came from memory, i.e. whether a fresh look could say otherwise.
   */
  async lookup(
    ctx: Ctx,
    workspaceId: string,
    provider: InboundProvider,
    open: (connection: ConnectionRow) => unknown,
    fresh = false,
  ): Promise<{ source: InboundSource | undefined; cached: boolean }> {
    const key = `${provider}:${workspaceId}`;
    const hit = fresh ? undefined : this.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return { source: hit.source, cached: true };

    const epoch = this.epoch;
    const found = await findWorkspaceWithConnection(ctx.db, workspaceId, provider);
    if (!found) {
      this.entries.delete(key);
      return { source: undefined, cached: false };
    }
    let secrets: InboundSource['secrets'];
    if (found.connection) {
      try {
        secrets = { ok: true, value: open(found.connection) };
      } catch (error) {
        secrets = { ok: false, error };
      }
    }
    const source: InboundSource = { demo: found.demo, connection: found.connection, secrets };
    if (epoch === this.epoch && this.options.ttlMs > 0) {
      this.entries.delete(key); // re-inserted last: Map order is the eviction order
      this.entries.set(key, { source, expiresAt: Date.now() + this.options.ttlMs });
      if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    return { source, cached: false };
  }

  /** Forgets one workspace (both providers), or everything when no id is given. */
  invalidate(workspaceId?: string): void {
    this.epoch++;
    if (workspaceId === undefined) {
      this.entries.clear();
      return;
    }
    this.entries.delete(`stripe:${workspaceId}`);
    this.entries.delete(`piano:${workspaceId}`);
  }
}
