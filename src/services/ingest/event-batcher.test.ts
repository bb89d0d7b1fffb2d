// The batcher's pressure: the share of the recent past during which BEHIND_BACKLOG or more requests waited for their
// commit. A backlog of a moment weighs little, one that lasts brings it near 1, and it fades once the requests are
// answered. pressure(now) reads the state at any time, so the figures below do not depend on timers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BatchedEvent } from '../../db/queries/event-inserts.js';
import { BEHIND_BACKLOG, EventBatcher, PRESSURE_WINDOW_MS } from './event-batcher.js';

function row(n: number): BatchedEvent {
  return {
    id: `ev_${n}`,
    workspaceId: 'ws',
    provider: 'stripe',
    providerEventId: `evt_${n}`,
    type: 't',
    livemode: false,
    providerCreatedAt: null,
    rawBody: Buffer.from('{}'),
    payloadText: null,
    status: 'received',
    error: null,
    inboundMethod: null,
    serialKeys: null,
  };
}

/** A batcher whose INSERT waits until `commit()` is called. */
function heldBatcher() {
  let commit = () => {};
  const committed = new Promise<void>((resolve) => (commit = resolve));
  const batcher = new EventBatcher(
    {
      insert: async (rows) => {
        await committed;
        return new Set(rows.map((r) => r.id));
      },
      insertAlone: async () => true,
      stored: () => {},
      rowProblem: () => false,
    },
    { maxRows: 128, maxInFlight: 1, lingerMs: 0 },
  );
  return { batcher, commit };
}

test('a backlog below the mark is no pressure, however long it lasts', async () => {
  const { batcher, commit } = heldBatcher();
  const answers = Array.from({ length: BEHIND_BACKLOG - 1 }, (_, i) => batcher.add(row(i)));
  const t0 = performance.now();
  assert.equal(batcher.backlog, BEHIND_BACKLOG - 1);
  assert.equal(batcher.pressure(t0 + 10 * PRESSURE_WINDOW_MS), 0);
  commit();
  await Promise.all(answers);
});

test('a backlog at the mark weighs by how long it lasts, and fades once answered', async () => {
  const { batcher, commit } = heldBatcher();
  const answers = Array.from({ length: BEHIND_BACKLOG }, (_, i) => batcher.add(row(i)));
  const t0 = performance.now();
  assert.ok(batcher.pressure(t0) < 0.05, 'a backlog of a moment weighs little');
  const early = batcher.pressure(t0 + PRESSURE_WINDOW_MS / 5);
  assert.ok(early > 0.1 && early < 0.25, `a fifth of the window: ${early}`);
  assert.ok(batcher.pressure(t0 + 4 * PRESSURE_WINDOW_MS) > 0.97, 'a backlog that lasts: near 1');

  // Answered after about 2 windows: from there the pressure fades with the same time constant.
  await new Promise((resolve) => setTimeout(resolve, 2 * PRESSURE_WINDOW_MS));
  commit();
  await Promise.all(answers);
  await new Promise((resolve) => setImmediate(resolve)); // the flush's end, after its answers
  assert.equal(batcher.backlog, 0);
  const t1 = performance.now();
  const atAnswer = batcher.pressure(t1);
  assert.ok(atAnswer > 0.8, `pressure when answered: ${atAnswer}`);
  const later = batcher.pressure(t1 + PRESSURE_WINDOW_MS);
  assert.ok(Math.abs(later - atAnswer * Math.exp(-1)) < 0.01, `one window later: ${later}`);
  assert.ok(batcher.pressure(t1 + 10 * PRESSURE_WINDOW_MS) < 0.001, 'gone');
});
