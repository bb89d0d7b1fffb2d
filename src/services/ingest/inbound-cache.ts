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

type LookupResult = { source: InboundSource | undefined; cached: boolean };

export class InboundCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a lookup that started before one must not store what it read. */
  private epoch = 0;
  /** Per key: the fresh read under way, and the one queued to start when it ends (see freshRead). */
  private readonly reading = new Map<string, Promise<LookupResult>>();
  private readonly queued = new Map<string, Promise<LookupResult>>();
  /** Fresh reads made from the database (tests and metrics). */
  freshReads = 0;

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
  ): Promise<LookupResult> {
    const key = `${provider}:${workspaceId}`;
    if (fresh) return this.freshRead(key, () => this.read(ctx, key, workspaceId, provider, open));
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return { source: hit.source, cached: true };
    return this.read(ctx, key, workspaceId, provider, open);
  }

  /**
   * A read of the database that starts after this call: what a request refused against memory must be checked
   * against. Callers that come while one is under way share the next one, which starts when it ends: a flood of
   * forged requests to one workspace (each refused, each asking for a fresh look) costs one read at a time, not
   * one read and one AES-GCM open per request, and every caller still sees settings read after it asked.
   */
  private freshRead(key: string, read: () => Promise<LookupResult>): Promise<LookupResult> {
    const waiting = this.queued.get(key);
    if (waiting) return waiting;
    const start = (): Promise<LookupResult> => {
      this.freshReads++;
      const p = read().finally(() => {
        if (this.reading.get(key) === p) this.reading.delete(key);
      });
      this.reading.set(key, p);
      return p;
    };
    const running = this.reading.get(key);
    if (!running) return start();
    const next = running
      .catch(() => undefined)
      .then(() => {
        this.queued.delete(key);
        return start();
      });
    this.queued.set(key, next);
    return next;
  }

  private async read(
    ctx: Ctx,
    key: string,
    workspaceId: string,
    provider: InboundProvider,
    open: (connection: ConnectionRow) => unknown,
  ): Promise<LookupResult> {
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
