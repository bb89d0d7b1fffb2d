// Table locks a test holds from a transaction of its own, to keep the code under test waiting at a known point,
// and an app to hold them against.
import assert from 'node:assert/strict';
import type { Queryable } from '../../src/db/port.js';
import { inboundCache } from '../../src/services/ingest/inbound-runtime.js';
import { startTestApp, type TestApp } from './app.js';
import type { TestStore } from './db.js';
import { postStripe, signStripe, stripeEvent } from './stripe.js';

type Transactional = { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> };

/** Runs `sql` (a lock) in a transaction of its own and keeps that transaction open until release(); `locked`
 *  resolves once the statement has run, so the lock is held. */
export function holdLock(db: Transactional, sql: string, params: unknown[] = []) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = db.transaction(async (tx) => {
    await tx.query(sql, params);
    locked();
    await gate;
  });
  return { locked: isLocked, release: async () => (release(), await done) };
}

/** Holds the events table locked (inserts wait) until release(). */
export function lockEvents(db: Transactional) {
  return holdLock(db, 'LOCK TABLE events IN EXCLUSIVE MODE');
}

/**
 * A test app without workers and a workspace that takes Stripe webhooks signed with `secret`, kept in the lookup
 * cache (and warmed with one webhook): while a test holds the events table, only the inserts wait.
 */
export async function ingestApp(name: string, secret: string, store?: TestStore): Promise<{ app: TestApp; ws: string }> {
  const app = await startTestApp({ ...(store ? { store } : {}), worker: false });
  const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
  assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [secret] })).status, 200);
  inboundCache(app.ctx).options = { ttlMs: 3_600_000, maxEntries: 100 };
  const warm = stripeEvent('customer.updated');
  assert.equal((await postStripe(app.url, ws, warm, signStripe(warm, secret))).status, 200);
  return { app, ws };
}
