// How a CLI command reaches the data: directly when it may open the database (PostgreSQL, or an embedded
// dir nobody holds), or through the running server's HTTP API when a server holds the embedded dir.
import { pino } from 'pino';
import type { Config } from '../config.js';
import { readDataDirLock, DataDirLockedError } from '../lib/data-dir-lock.js';
import { createMetrics } from '../lib/metrics.js';
import { createSecretBox, loadOrCreateMasterKey } from '../lib/secret-box.js';
import { openStore } from '../main.js';
import type { Ctx } from '../services/context.js';
import { findHandler } from '../crm/handlers.js';

export type Access =
  | { via: 'direct'; ctx: Ctx; close(): Promise<void> }
  | { via: 'server'; call<T>(method: string, path: string, body?: unknown): Promise<T> };

export async function openAccess(config: Config): Promise<Access> {
  if (!config.databaseUrl) {
    const holder = readDataDirLock(config.dataDir);
    if (holder) {
      if (!holder.url || !holder.cliToken) throw new DataDirLockedError(config.dataDir, holder);
      const { url, cliToken } = holder;
      return {
        via: 'server',
        async call<T>(method: string, path: string, body?: unknown): Promise<T> {
          const res = await fetch(`${url}/api/v1${path}`, {
            method,
            headers: { authorization: `Bearer ${cliToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const json = (await res.json()) as T & { error?: { message?: string } };
          if (!res.ok) throw new Error(json.error?.message ?? `server answered ${res.status}`);
          return json;
        },
      };
    }
  }
  const { db, lock } = await openStore(config);
  const ctx: Ctx = {
    db,
    config,
    secretBox: createSecretBox(loadOrCreateMasterKey(config.secretKey, config.dataDir).key),
    log: pino({ level: 'warn' }),
    metrics: createMetrics(),
    now: Date.now,
    publicUrl: () => config.publicUrl ?? `http://${config.host}:${config.port}`,
    onEventStored: () => {},
    onDeliveriesQueued: () => {},
    findHandler,
  };
  return {
    via: 'direct',
    ctx,
    async close() {
      await db.close();
      lock?.release();
    },
  };
}
