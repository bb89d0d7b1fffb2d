// Migration 0034 keeps what each Stripe charge's event reported and when each refund was first seen failed, so that
// a charge's amount_refunded can be computed whatever order the events came in. Rows written under the former rule
// (the stored amount already less the refunds that failed after it) must come out with the same figure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recountChargeRefunded } from '../../src/db/queries/crm.js';
import { withMigratedBefore } from '../helpers/db.js';

test('migration 0034: charges and refunds written by the former rule keep their refunded amounts', async () => {
  await withMigratedBefore(34, async (db, finish) => {
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_r', 'r')`);
    const payment = (id: string, kind: string, status: string, amount: number, refunded: number | null, ts: string, charge: string) =>
      db.query(
        `INSERT INTO payments (id, workspace_id, provider, provider_id, kind, status, amount, amount_refunded, charge_provider_id, source_ts)
         VALUES ($1, 'ws_r', 'stripe', $1, $2, $3, $4, $5, $7, $6)`,
        [id, kind, status, amount, refunded, ts, charge],
      );
    // ch_a's event (12:01) counted re_a, which failed at 12:05: the former rule had taken it off (500 → 0).
    await payment('ch_a', 'charge', 'succeeded', 1000, 0, '2026-01-01T12:01:00Z', 'ch_a');
    await payment('re_a', 'refund', 'failed', 500, null, '2026-01-01T12:05:00Z', 'ch_a');
    // ch_b's event (12:10) came after its refund failed (12:05) and never counted it: 300 is another refund's.
    await payment('ch_b', 'charge', 'succeeded', 1000, 300, '2026-01-01T12:10:00Z', 'ch_b');
    await payment('re_b', 'refund', 'failed', 700, null, '2026-01-01T12:05:00Z', 'ch_b');
    await payment('re_b2', 'refund', 'succeeded', 300, null, '2026-01-01T12:10:00Z', 'ch_b');
    await finish();

    const { rows } = await db.query<{ id: string; reported: string | null; refunded: string | null; undone: Date | null }>(
      `SELECT id, reported_amount_refunded AS reported, amount_refunded AS refunded, undone_at AS undone FROM payments ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.reported === null ? null : Number(r.reported), r.undone?.toISOString() ?? null]),
      [
        ['ch_a', 500, null],
        ['ch_b', 300, null],
        ['re_a', null, '2026-01-01T12:05:00.000Z'],
        ['re_b', null, '2026-01-01T12:05:00.000Z'],
        ['re_b2', null, null],
      ],
    );
    // Computed again from those, each charge keeps the figure it had.
    for (const id of ['ch_a', 'ch_b']) await recountChargeRefunded(db, { workspaceId: 'ws_r', provider: 'stripe', providerId: id });
    const after = await db.query<{ id: string; amount_refunded: string }>(
      `SELECT id, amount_refunded FROM payments WHERE kind = 'charge' ORDER BY id`,
    );
    assert.deepEqual(
      after.rows.map((r) => [r.id, Number(r.amount_refunded)]),
      [
        ['ch_a', 0],
        ['ch_b', 300],
      ],
    );
  });
});
