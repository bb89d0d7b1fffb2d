import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventHandler } from '../crm/handlers.js';
import type { Db } from '../db/port.js';
import type { Metrics } from '../lib/metrics.js';
import type { SecretBox } from '../lib/secret-box.js';

/** Everything a service verb needs, passed in explicitly (no globals), so tests build their own. */
export interface Ctx {
  db: Db;
  config: Config;
  secretBox: SecretBox;
  log: Logger;
  metrics: Metrics;
  /** Milliseconds since the epoch; injected so verification and scheduling can be tested at any instant. */
  now: () => number;
  /** Base of the webhook URLs shown to users (SLUICE_PUBLIC_URL or the address actually listened on). */
  publicUrl: () => string;
  /** Wakes this process's workers when an event was stored, instead of waiting for their next poll. */
  onEventStored: () => void;
  /** Wakes this process's delivery worker when deliveries may have been queued. */
  onDeliveriesQueued: () => void;
  /** Wakes this process's parity checker when customers were marked due for a check at `atMs` (ms since the epoch). */
  onChecksDue?: (atMs: number) => void;
  /** Wakes this process's workflow worker when steps were queued (set by the workflow worker when it starts). */
  wakeWorkflows?: () => void;
  /** The projection handler for a provider's event type; undefined means the type is stored and ignored. */
  findHandler: (provider: string, type: string) => EventHandler | undefined;
}
