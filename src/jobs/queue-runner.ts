// The one worker runner for every leased queue (events, deliveries, and what comes next): claim due rows,
// work them off with bounded concurrency, renew the leases of what is held, and on stop let the work in hand
// finish within a deadline and give the rest back. Nothing lives only in memory: a claim that dies with its
// process becomes due again when its lease expires.
//
// Two shapes of work:
// - `batch`: each claim of up to `batchSize` rows is one unit (one transaction for a batch of events); at most
//   `lanes` units run at once — the number of workers.
// - `each`: every claimed row is a unit of its own (one HTTP request per delivery), at most `lanes` in flight,
//   so a slow row holds only its own slot and the runner claims again as slots free up.
import type { Logger } from 'pino';
import { newId } from '../lib/ids.js';
import { createWakeSleep } from '../lib/wake-sleep.js';

export interface QueueRunnerSpec<T extends { id: string }> {
  /** For logs and worker ids ('wrk', 'dwk'). */
  name: string;
  idPrefix: string;
  /** Units running at once: batches in `batch` mode, rows in `each` mode. */
  lanes: number;
  /** Rows per claim. */
  batchSize: number;
  pollMs: number;
  /** Renewal period of held leases (a third of the lease, so one missed beat does not lose them). */
  renewEveryMs: number;
  log: Logger;
  now(): number;
  claim(workerId: string, limit: number): Promise<T[]>;
  /** Awaited before each claim, with the units already running and the rows the claim would take: a runner that
   *  gives way to more urgent work in its process (bounded). Resolves to the rows the claim may take, at most
   *  `limit`; 0 skips this claim, and the runner waits for a wake-up or the next poll. */
  beforeClaim?(running: number, limit: number): Promise<number>;
  renew(workerId: string, ids: readonly string[]): Promise<void>;
  release(workerId: string, ids: readonly string[]): Promise<void>;
  /** Upkeep of the queue table between claims (its planner statistics); true when it did something. */
  maintain?(): Promise<boolean>;
  work:
    | { mode: 'batch'; run(workerId: string, batch: T[]): Promise<void> }
    | {
        mode: 'each';
        /** `freed`, called by the work once the row no longer holds what the claim limits (a delivery's request
         *  has ended; its attempt is still being recorded), counts the row as finished for the next claim. */
        run(workerId: string, row: T, freed: () => void): Promise<void>;
      };
  /**
   * Whether rows still held at the stop deadline are given back at once. False where work holds the rows
   * locked in a transaction (a release would only wait for it): their leases expire instead.
   */
  releaseAtDeadline: boolean;
  /** How rows still held at the stop deadline are given back, when `release` (which uncounts their attempt) is not
   *  right for work already under way: a delivery whose request is out has reached its receiver, maybe. */
  releaseAtDeadlineWith?: (workerId: string, ids: readonly string[]) => Promise<void>;
}

export interface QueueRunner {
  readonly id: string;
  /** Look for work now instead of at the next poll. */
  wake(): void;
  /** Rows claimed and not yet worked off. */
  held(): number;
  /** Stop claiming, let the work in hand finish (bounded by timeoutMs), give back what is left. */
  stop(timeoutMs: number): Promise<void>;
}

/** How often at most a busy runner checks its queue table's upkeep. */
const MAINTAIN_EVERY_MS = 5_000;

export function startQueueRunner<T extends { id: string }>(spec: QueueRunnerSpec<T>): QueueRunner {
  const id = newId(spec.idPrefix, spec.now());
  const held = new Set<string>();
  const units = new Set<Promise<void>>();
  let running = true;
  const waker = createWakeSleep();

  // A unit may take longer than one lease (slow handlers, provider API calls, a slow receiver): a live worker
  // keeps its claims, a dead one stops renewing and its rows are due again within one lease.
  const heartbeat = setInterval(() => {
    if (held.size === 0) return;
    spec.renew(id, [...held]).catch((err: unknown) => spec.log.warn({ err, queue: spec.name }, 'could not renew leases'));
  }, spec.renewEveryMs);
  heartbeat.unref();

  // Upkeep runs beside the claims, at most every MAINTAIN_EVERY_MS, only while there is work (a queue that
  // does not change does not need it).
  let lastUpkeep = 0;
  let upkeep: Promise<unknown> | undefined;
  function maintain(): void {
    if (!spec.maintain || upkeep || spec.now() - lastUpkeep < MAINTAIN_EVERY_MS) return;
    lastUpkeep = spec.now();
    upkeep = spec
      .maintain()
      .then((did) => did && spec.log.debug({ queue: spec.name }, 'queue statistics refreshed'))
      .catch((err: unknown) => spec.log.warn({ err, queue: spec.name }, 'queue upkeep failed; claims go on'))
      .finally(() => (upkeep = undefined));
  }

  // A claim that came back short took everything that was due and claimable: the queue is empty, or what is left
  // waits for a busy key (an endpoint at its concurrency). Claiming again for every lane that frees would then
  // cost one claim query per row (deliveries: 5.7 rows a claim, 0.7 ms each, a third of the database's time).
  // So after a short claim, finished work wakes the loop only once a quarter of what was in flight has
  // finished. New work (wake()) and the poll still wake it at once: a slow receiver holding its slots delays
  // no one. "Finished" is when a unit frees what the claim counts (`freed`): a delivery frees its endpoint's slot
  // when its request ends, and recording its attempt (batched, ~9 ms under load) must not keep that slot idle.
  // Counting at record time made the claim loop, not the receivers or the database, bound deliveries.
  let finishedSinceClaim = 0;
  let refillAfter = 1;
  // Units that have not yet freed their slot (in `each` mode those whose request is still out).
  let holding = 0;
  // The loop is asleep because too few lanes are free.
  let lanesFull = false;
  // A lane is held until its unit frees its slot; units that did and are only being recorded are bounded apart
  // (as many again as there are lanes), so recording that falls behind holds the claims back.
  const freeLanes = () => Math.min(spec.lanes - holding, 2 * spec.lanes - units.size);
  // Whether the loop sleeps for want of lanes and enough are free now to claim (minClaim is defined below).
  const lanesFreedForLoop = () => lanesFull && freeLanes() >= minClaim;

  function launch(rows: T[], run: (freed: () => void) => Promise<void>): void {
    for (const r of rows) held.add(r.id);
    // Counted once per unit, when its work says it freed its slot or else when it ends.
    let counted = false;
    holding += 1;
    const freed = () => {
      if (counted) return;
      counted = true;
      holding -= 1;
      finishedSinceClaim += 1;
      if (finishedSinceClaim >= refillAfter || lanesFreedForLoop()) waker.wake();
    };
    const unit = run(freed)
      .catch((err: unknown) => {
        // Only a store outage reaches here (work records its own failures): the claims expire and are retried.
        spec.log.error({ err, queue: spec.name }, 'queue work could not be recorded; its claims expire and are retried');
      })
      .finally(() => {
        for (const r of rows) held.delete(r.id);
        units.delete(unit);
        freed();
        // A unit that freed its slot earlier still held a lane until now: the loop may be waiting for lanes.
        if (lanesFreedForLoop()) waker.wake();
      });
    units.add(unit);
  }

  // In `each` mode every finished row frees a lane and wakes the loop: claiming at once would cost one claim
  // query per row. While work is in flight, wait until a quarter of the claim size is free, so claims stay
  // batched; an idle runner claims whatever is due.
  const minClaim = spec.work.mode === 'each' ? Math.max(1, Math.floor(Math.min(spec.batchSize, spec.lanes) / 4)) : 1;

  const loop = (async () => {
    while (running) {
      waker.clear();
      const free = freeLanes();
      if (free <= 0 || (free < minClaim && units.size > 0)) {
        lanesFull = true;
        await waker.sleep(spec.pollMs);
        lanesFull = false;
        continue;
      }
      let limit = spec.work.mode === 'batch' ? spec.batchSize : Math.min(spec.batchSize, free);
      let rows: T[];
      try {
        if (spec.beforeClaim) limit = Math.min(limit, Math.floor(await spec.beforeClaim(units.size, limit)));
        if (!(limit > 0)) {
          await waker.sleep(spec.pollMs);
          continue;
        }
        rows = await spec.claim(id, limit);
      } catch (err) {
        spec.log.error({ err, queue: spec.name }, 'could not claim work; retrying in 1 s');
        await waker.sleep(1000);
        continue;
      }
      if (!running) {
        // Stopped while the claim was in flight: hand the rows straight back.
        await spec
          .release(
            id,
            rows.map((r) => r.id),
          )
          .catch(() => undefined);
        break;
      }
      if (rows.length > 0) maintain();
      const work = spec.work;
      if (work.mode === 'batch') {
        if (rows.length > 0) launch(rows, () => work.run(id, rows));
      } else {
        for (const row of rows) launch([row], (freed) => work.run(id, row, freed));
      }
      finishedSinceClaim = 0;
      refillAfter = work.mode === 'each' && rows.length < limit ? Math.max(1, Math.floor(holding / 4)) : 1;
      // A full claim may mean more is due: claim again at once (if a lane is free). Otherwise wait for a
      // wake-up (new work, enough lanes freed) or the next poll.
      if (rows.length < limit) await waker.sleep(spec.pollMs);
    }
  })().finally(() => clearInterval(heartbeat));

  return {
    id,
    wake: waker.wake,
    held: () => held.size,
    async stop(timeoutMs) {
      running = false;
      waker.stop();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const finished = loop.then(() => Promise.all([...units, upkeep])).then(() => 'done' as const);
      const result = await Promise.race([finished, timedOut]);
      clearTimeout(timer);
      if (result === 'done') return;
      const left = [...held];
      if (spec.releaseAtDeadline) {
        spec.log.warn({ queue: spec.name, held: left.length }, 'work still in hand at shutdown is given back and will run again');
        await (spec.releaseAtDeadlineWith ?? spec.release)(id, left).catch((err: unknown) =>
          spec.log.warn({ err, queue: spec.name }, 'could not give back the work in hand; its claims expire with their lease'),
        );
      } else {
        spec.log.warn({ queue: spec.name, held: left.length }, 'worker did not finish in time; its claims expire with their lease');
      }
    },
  };
}
