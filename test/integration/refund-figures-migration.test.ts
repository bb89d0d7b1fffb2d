// Migration 0038 takes the refund figures 0034 derived from rows back to the stored events: a charge's
// reported_amount_refunded from the event that last wrote it, a refund's refund_created_at from its object and its
// undone_at from the earliest stored event that showed it failed, and the charge's amount_refunded computed again
// from those. A database upgraded through 0034 kept what the former rule had corrupted (a failed refund taken off
// twice); a row whose event is no longer stored keeps what it has.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { projectEvent } from '../../src/crm/handlers.js';
import { loadMigrations } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/port.js';
import { recountChargeRefunded } from '../../src/db/queries/crm.js';
import { createTestStore, openMigrated, withMigratedBefore } from '../helpers/db.js';

const at = (hhmmss: string) => `2026-01-01T${hhmmss}Z`;
const unix = (hhmmss: string) => Date.parse(at(hhmmss)) / 1000;

interface StoredEvent {
  id: string;
  type: string;
  time: string;
  object: Record<string, unknown>;
  /** How the payload is kept: in the raw body (raw_is_payload, Stripe since 0031), in the payload column (before),
   *  or not at all (retention pruned the raw body of an event that had no payload column). */
  kept: 'raw' | 'payload' | 'pruned';
}

async function storeEvent(db: Db, e: StoredEvent): Promise<void> {
  const body = JSON.stringify({ id: e.id, object: 'event', type: e.type, created: unix(e.time), data: { object: e.object } });
  await db.query(
    `INSERT INTO events (id, workspace_id, provider, provider_event_id, type, provider_created_at, payload, raw_body,
                         raw_is_payload, raw_pruned_at, status)
     VALUES ($1, 'ws_r', 'stripe', $2, $3, $4, $5::jsonb, $6, $7, $8, 'processed')`,
    [
      `ev_${e.id}`,
      e.id,
      e.type,
      at(e.time),
      e.kept === 'payload' ? body : null,
      e.kept === 'pruned' ? null : body,
      e.kept === 'raw',
      e.kept === 'pruned' ? at('23:00:00') : null,
    ],
  );
}

async function payment(
  db: Db,
  row: { id: string; kind: string; status: string; amount: number; refunded: number | null; ts: string; event: string; charge: string },
): Promise<void> {
  await db.query(
    `INSERT INTO payments (id, workspace_id, provider, provider_id, kind, status, amount, amount_refunded, charge_provider_id,
                           source_ts, source_event_id)
     VALUES ($1, 'ws_r', 'stripe', $1, $2, $3, $4, $5, $6, $7, $8)`,
    [row.id, row.kind, row.status, row.amount, row.refunded, row.charge, at(row.ts), row.event],
  );
}

type Figures = Record<string, { reported: number | null; refunded: number | null; created: string | null; undone: string | null }>;

async function figures(db: Db): Promise<Figures> {
  const { rows } = await db.query<{
    id: string;
    reported: string | null;
    refunded: string | null;
    created: Date | null;
    undone: Date | null;
  }>(
    `SELECT provider_id AS id, reported_amount_refunded AS reported, amount_refunded AS refunded, refund_created_at AS created,
            undone_at AS undone
     FROM payments ORDER BY provider_id`,
  );
  const out: Figures = {};
  for (const r of rows) {
    out[r.id] = {
      reported: r.reported === null ? null : Number(r.reported),
      refunded: r.refunded === null ? null : Number(r.refunded),
      created: r.created?.toISOString() ?? null,
      undone: r.undone?.toISOString() ?? null,
    };
  }
  return out;
}

const iso = (hhmmss: string) => new Date(at(hhmmss)).toISOString();

test('migration 0038: refund figures are taken again from the stored events; a row without its event keeps its own', async () => {
  await withMigratedBefore(34, async (db, finish) => {
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_r', 'r')`);

    // ch_twice: re_1 (200, created 12:00:30) and re_2 (500, created 12:01) refunded; its charge.refunded of 12:01
    // reported 700. re_1 failed at 12:05 (the former rule took 200 off: 500) and had its metadata changed at 12:10,
    // which moved its row's version past the charge's, and the former rule took it off a second time: 300.
    const re1 = { id: 're_1', object: 'refund', charge: 'ch_twice', amount: 200, created: unix('12:00:30') };
    await storeEvent(db, {
      id: 'evt_c1',
      type: 'charge.refunded',
      time: '12:01:00',
      kept: 'raw',
      object: { id: 'ch_twice', object: 'charge', status: 'succeeded', amount: 1000, amount_refunded: 700 },
    });
    await storeEvent(db, {
      id: 'evt_r2',
      type: 'charge.refund.updated',
      time: '12:02:00',
      kept: 'raw',
      object: { id: 're_2', object: 'refund', charge: 'ch_twice', amount: 500, created: unix('12:01:00'), status: 'succeeded' },
    });
    // The failure itself is an event processed before 0031: its payload is in the payload column.
    await storeEvent(db, {
      id: 'evt_r1_failed',
      type: 'charge.refund.updated',
      time: '12:05:00',
      kept: 'payload',
      object: { ...re1, status: 'failed' },
    });
    await storeEvent(db, {
      id: 'evt_r1_meta',
      type: 'charge.refund.updated',
      time: '12:10:00',
      kept: 'raw',
      object: { ...re1, status: 'failed', metadata: { note: 'x' } },
    });
    await payment(db, {
      id: 'ch_twice',
      kind: 'charge',
      status: 'succeeded',
      amount: 1000,
      refunded: 300,
      ts: '12:01:00',
      event: 'evt_c1',
      charge: 'ch_twice',
    });
    await payment(db, {
      id: 're_1',
      kind: 'refund',
      status: 'failed',
      amount: 200,
      refunded: null,
      ts: '12:10:00',
      event: 'evt_r1_meta',
      charge: 'ch_twice',
    });
    await payment(db, {
      id: 're_2',
      kind: 'refund',
      status: 'succeeded',
      amount: 500,
      refunded: null,
      ts: '12:02:00',
      event: 'evt_r2',
      charge: 'ch_twice',
    });

    // ch_gone: the same corruption (its 400 refund taken off twice), but its event's raw body was pruned and its
    // refund's event is gone: nothing tells the figures again, so they stay what they are.
    await storeEvent(db, {
      id: 'evt_gone',
      type: 'charge.refunded',
      time: '12:01:00',
      kept: 'pruned',
      object: { id: 'ch_gone', object: 'charge', status: 'succeeded', amount: 1000, amount_refunded: 800 },
    });
    await payment(db, {
      id: 'ch_gone',
      kind: 'charge',
      status: 'succeeded',
      amount: 1000,
      refunded: 0,
      ts: '12:01:00',
      event: 'evt_gone',
      charge: 'ch_gone',
    });
    await payment(db, {
      id: 're_g',
      kind: 'refund',
      status: 'failed',
      amount: 400,
      refunded: null,
      ts: '12:10:00',
      event: 'evt_not_stored',
      charge: 'ch_gone',
    });

    await finish();

    const expected: Figures = {
      // What the 12:01 event reported, less re_1 once (it failed after that event): 500.
      ch_twice: { reported: 700, refunded: 500, created: null, undone: null },
      re_1: { reported: null, refunded: null, created: iso('12:00:30'), undone: iso('12:05:00') },
      re_2: { reported: null, refunded: null, created: iso('12:01:00'), undone: null },
      // 0034's figures: the stored amount plus the refund taken off (400), the refund's end at its row's version.
      ch_gone: { reported: 400, refunded: 0, created: null, undone: null },
      re_g: { reported: null, refunded: null, created: null, undone: iso('12:10:00') },
    };
    assert.deepEqual(await figures(db), expected);

    // What the projection would compute from them now is what is stored: the next refund event changes nothing.
    for (const id of ['ch_twice', 'ch_gone']) {
      assert.equal(await recountChargeRefunded(db, { workspaceId: 'ws_r', provider: 'stripe', providerId: id }), undefined, id);
    }

    // Idempotent: running it again changes nothing.
    const migration = loadMigrations().find((m) => m.name === 'refund_figures_from_events');
    assert.ok(migration, 'the migration is there');
    await db.exec(migration.sql);
    assert.deepEqual(await figures(db), expected);
  });
});

test('migration 0038: a charge settled by a fetch keeps the fetched figure as of the fetch; a later failure comes off', async () => {
  await withMigratedBefore(34, async (db, finish) => {
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_r', 'r')`);
    // ch_f's charge.updated (12:01, reporting 0) tied with its charge.refunded of the same second: the charge was
    // fetched at 12:03 and showed re_f (300, created 12:00:50) counted. re_f failed at 12:05, after the fetch.
    // The former rule kept the fetched 300 and took re_f off twice (12:05 failure, 12:10 metadata change): 0.
    await storeEvent(db, {
      id: 'evt_f',
      type: 'charge.updated',
      time: '12:01:00',
      kept: 'raw',
      object: { id: 'ch_f', object: 'charge', status: 'succeeded', amount: 1000, amount_refunded: 0 },
    });
    await db.query(`INSERT INTO provider_snapshots (event_id, object_id, object, fetched_at) VALUES ('ev_evt_f', 'ch_f', $1::jsonb, $2)`, [
      JSON.stringify({ id: 'ch_f', object: 'charge', status: 'succeeded', amount: 1000, amount_refunded: 300 }),
      at('12:03:00'),
    ]);
    const ref = { id: 're_f', object: 'refund', charge: 'ch_f', amount: 300, created: unix('12:00:50') };
    await storeEvent(db, {
      id: 'evt_f_failed',
      type: 'charge.refund.updated',
      time: '12:05:00',
      kept: 'raw',
      object: { ...ref, status: 'failed' },
    });
    await storeEvent(db, {
      id: 'evt_f_meta',
      type: 'charge.refund.updated',
      time: '12:10:00',
      kept: 'raw',
      object: { ...ref, status: 'failed' },
    });
    await payment(db, {
      id: 'ch_f',
      kind: 'charge',
      status: 'succeeded',
      amount: 1000,
      refunded: 0,
      ts: '12:01:00',
      event: 'evt_f',
      charge: 'ch_f',
    });
    await payment(db, {
      id: 're_f',
      kind: 'refund',
      status: 'failed',
      amount: 300,
      refunded: null,
      ts: '12:10:00',
      event: 'evt_f_meta',
      charge: 'ch_f',
    });

    await finish();

    const { rows } = await db.query<{ reported: string; as_of: Date | null; refunded: string }>(
      `SELECT reported_amount_refunded AS reported, reported_as_of AS as_of, amount_refunded AS refunded FROM payments WHERE id = 'ch_f'`,
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.reported), r.as_of?.toISOString() ?? null, Number(r.refunded)]),
      [[300, iso('12:03:00'), 0]],
    );
    // The fetched figure counted re_f; it failed after the fetch, so it comes off once: 0 is right here, and the
    // refund's end is the failure's time, not the metadata change's.
    const refund = await db.query<{ undone: Date }>(`SELECT undone_at AS undone FROM payments WHERE id = 're_f'`);
    assert.equal(refund.rows[0]!.undone.toISOString(), iso('12:05:00'));
  });
});

test('migration 0038: rows the current projection wrote, in any delivery order, are left as they are', async () => {
  const store = await createTestStore();
  const db = await openMigrated(store);
  try {
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_r', 'r')`);
    const reA = { id: 're_a', object: 'refund', charge: 'ch_l', amount: 200, created: unix('12:00:30') };
    const reB = { id: 're_b', object: 'refund', charge: 'ch_l', amount: 500, created: unix('12:01:00'), status: 'succeeded' };
    const reC = { id: 're_c', object: 'refund', charge: 'ch_l', amount: 100, created: unix('12:15:00') };
    const charge = (refunded: number, refunds?: unknown[]) => ({
      id: 'ch_l',
      object: 'charge',
      status: 'succeeded',
      amount: 1000,
      amount_refunded: refunded,
      ...(refunds ? { refunds: { object: 'list', data: refunds } } : {}),
    });
    const events: StoredEvent[] = [
      { id: 'evt_a', type: 'charge.refunded', time: '12:01:00', kept: 'raw', object: charge(700) },
      { id: 'evt_b', type: 'charge.refund.updated', time: '12:05:00', kept: 'raw', object: { ...reA, status: 'failed' } },
      { id: 'evt_c', type: 'charge.updated', time: '12:06:00', kept: 'raw', object: charge(500) },
      {
        id: 'evt_d',
        type: 'charge.refund.updated',
        time: '12:10:00',
        kept: 'raw',
        object: { ...reA, status: 'failed', metadata: { n: '1' } },
      },
      // An older API version's charge event, listing its refunds.
      {
        id: 'evt_e',
        type: 'charge.refunded',
        time: '12:20:00',
        kept: 'raw',
        object: charge(600, [{ ...reC, status: 'pending' }, reB, { ...reA, status: 'failed' }]),
      },
      { id: 'evt_f', type: 'charge.refund.updated', time: '12:30:00', kept: 'raw', object: { ...reC, status: 'failed' } },
    ];
    for (const e of events) await storeEvent(db, e);
    for (const id of ['evt_e', 'evt_d', 'evt_a', 'evt_f', 'evt_c', 'evt_b']) {
      const e = events.find((x) => x.id === id)!;
      const payload = { id: e.id, object: 'event', type: e.type, created: unix(e.time), data: { object: e.object } };
      await db.transaction((tx) =>
        projectEvent(tx, { id: `ev_${e.id}`, workspaceId: 'ws_r', provider: 'stripe', type: e.type, payload }, { publish: false }),
      );
    }
    const projected = await figures(db);
    // The 12:20 event's 600, less re_c, which it counted and which failed at 12:30.
    assert.deepEqual(projected.ch_l, { reported: 600, refunded: 500, created: null, undone: null });

    const migration = loadMigrations().find((m) => m.name === 'refund_figures_from_events');
    assert.ok(migration, 'the migration is there');
    await db.exec(migration.sql);
    assert.deepEqual(await figures(db), projected);
  } finally {
    await db.close();
    await store.drop();
  }
});
