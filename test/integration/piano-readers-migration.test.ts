// Migration 0035: Piano readers seen only through events that said nothing of them (no email, no name) were kept as
// stubs, which /customers does not list. They become customers that claim no version yet; Stripe's stubs (customers
// referenced before their own event) stay stubs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMigratedBefore } from '../helpers/db.js';

test('migration 0035: Piano stub customers become listed customers that claim no version; Stripe stubs stay', async () => {
  await withMigratedBefore(35, async (db, finish) => {
    await db.query(`INSERT INTO workspaces (id, name) VALUES ('ws_p', 'p')`);
    await db.query(
      `INSERT INTO customers (id, workspace_id, provider, provider_id, stub, email, source_ts) VALUES
         ('cus_a', 'ws_p', 'piano', 'reader-quiet', true, NULL, NULL),
         ('cus_b', 'ws_p', 'piano', 'reader-known', false, 'known@example.com', '2026-01-01T00:00:00Z'),
         ('cus_c', 'ws_p', 'stripe', 'cus_pending', true, NULL, NULL)`,
    );
    await finish();
    const { rows } = await db.query<{ id: string; stub: boolean; source_ts: Date | null }>(
      'SELECT id, stub, source_ts FROM customers ORDER BY id',
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.stub, r.source_ts?.toISOString() ?? null]),
      [
        ['cus_a', false, null],
        ['cus_b', false, '2026-01-01T00:00:00.000Z'],
        ['cus_c', true, null],
      ],
    );
  });
});
