// A real Sluice in the test process: real database, real HTTP on an ephemeral loopback port, real worker.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { safeLoggerOptions } from '../../src/lib/log-safety.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Db } from '../../src/db/port.js';
import { buildApp } from '../../src/http/app.js';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/jobs/delivery-worker.js';
import { startEventWorker, type EventWorker } from '../../src/jobs/event-worker.js';
import { startParityChecker, type ParityChecker } from '../../src/jobs/parity-checker.js';
import { startWorkflowWorker, type WorkflowWorker } from '../../src/jobs/workflow-worker.js';
import { hashToken } from '../../src/lib/hash.js';
import type { Ctx } from '../../src/services/context.js';
import { createContext } from '../../src/services/create-context.js';
import { createTestStore, openMigrated, type TestStore } from './db.js';

export interface TestApp {
  url: string;
  ctx: Ctx;
  db: Db;
  store: TestStore;
  adminToken: string;
  worker: EventWorker | undefined;
  sender: DeliveryWorker | undefined;
  checker: ParityChecker | undefined;
  workflows: WorkflowWorker | undefined;
  /** fetch against the app with the admin token (or another token) and JSON in and out. */
  api<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  worker?: boolean;
  /** Run the event-triggered parity checker too (off by default: most tests count the messages they cause). */
  checker?: boolean;
  config?: Partial<Config>;
  findHandler?: Ctx['findHandler'];
  now?: () => number;
  /** The logger to use (a test reading the log lines); a silent one otherwise. */
  log?: Ctx['log'];
  /** Reuse a store (to restart on the same data); created and dropped by the app otherwise. */
  store?: TestStore;
  /** The master key secrets are sealed with (base64 of 32 bytes); one random key per store otherwise. */
  masterKey?: string;
}

function masterKey(store: TestStore): string {
  let key = masterKeys.get(store);
  if (!key) masterKeys.set(store, (key = randomBytes(32).toString('base64')));
  return key;
}

// A restarted app must open what the previous one sealed: one master key per store.
const masterKeys = new WeakMap<TestStore, string>();

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const store = opts.store ?? (await createTestStore());
  const db = await openMigrated(store);
  const adminToken = `test_admin_${randomBytes(16).toString('hex')}`;
  const logLevel = process.env.TEST_LOG_LEVEL ?? 'silent';
  const config = loadConfig({}, { port: 0, workerPollMs: 50, dataDir: store.dataDir, logLevel, ...opts.config });
  let worker: EventWorker | undefined;
  let sender: DeliveryWorker | undefined;
  let checker: ParityChecker | undefined;
  let workflows: WorkflowWorker | undefined;
  let url = '';
  const ctx: Ctx = createContext(config, {
    db,
    masterKey: opts.masterKey ?? masterKey(store),
    log: opts.log ?? pino(safeLoggerOptions(logLevel)),
    ...(opts.now ? { now: opts.now } : {}),
    publicUrl: () => url,
    onEventStored: () => worker?.wake(),
    onDeliveriesQueued: () => sender?.wake(),
    onChecksDue: (atMs) => checker?.wake(atMs),
    ...(opts.findHandler ? { findHandler: opts.findHandler } : {}),
  });
  const app = await buildApp({ ctx, admin: { hashes: [hashToken(adminToken)] } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  url = `http://127.0.0.1:${address.port}`;
  if (opts.worker !== false) {
    worker = startEventWorker(ctx);
    sender = startDeliveryWorker(ctx);
    workflows = startWorkflowWorker(ctx);
  }
  if (opts.checker) checker = startParityChecker(ctx);

  return {
    url,
    ctx,
    db,
    store,
    adminToken,
    worker,
    sender,
    checker,
    workflows,
    async api(method, path, body, token = adminToken) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await app.close();
      await Promise.all([worker?.stop(5000), sender?.stop(5000), checker?.stop(), workflows?.stop(5000)]);
      await db.close();
      if (!opts.store) await store.drop();
    },
  };
}

/** Polls until check() returns a truthy value or the time runs out (then fails with the last value). */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last as T;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}
