// The one place a Ctx is assembled (server, CLI local mode, tests), so a new dependency is added once and
// every caller gets it, instead of three hand-built objects drifting apart.
import { pino, type Logger } from 'pino';
import { safeLoggerOptions } from '../lib/log-safety.js';
import { publicBaseUrl, type Config } from '../config.js';
import { findHandler as defaultFindHandler } from '../crm/handlers.js';
import type { Db } from '../db/port.js';
import { createMetrics, type Metrics } from '../lib/metrics.js';
import { createSecretBox } from '../lib/secret-box.js';
import type { Ctx } from './context.js';

export interface ContextOptions {
  db: Db;
  /** The master key that seals stored credentials (SLUICE_SECRET_KEY or the data dir's secret.key). */
  masterKey: string;
  log?: Logger;
  metrics?: Metrics;
  now?: () => number;
  /** Defaults to the URL the configured server uses (SLUICE_PUBLIC_URL, else http://HOST:PORT). */
  publicUrl?: () => string;
  onEventStored?: () => void;
  onDeliveriesQueued?: () => void;
  onChecksDue?: (atMs: number) => void;
  findHandler?: Ctx['findHandler'];
}

export function createContext(config: Config, opts: ContextOptions): Ctx {
  return {
    db: opts.db,
    config,
    secretBox: createSecretBox(opts.masterKey),
    log: opts.log ?? pino(safeLoggerOptions(config.logLevel)),
    metrics: opts.metrics ?? createMetrics(),
    now: opts.now ?? Date.now,
    publicUrl: opts.publicUrl ?? (() => publicBaseUrl(config)),
    onEventStored: opts.onEventStored ?? (() => {}),
    onDeliveriesQueued: opts.onDeliveriesQueued ?? (() => {}),
    ...(opts.onChecksDue ? { onChecksDue: opts.onChecksDue } : {}),
    wakeWorkflows: () => {},
    findHandler: opts.findHandler ?? defaultFindHandler,
  };
}
