// The boundary sweep, run by the scheduler every minute (one instance per slot):
// 1. access rows past their expiry become `expired`, each publishing access.revoked with data.reason "expired"
//    once (nothing else ever sets `expired`: Piano sends no event when an access simply runs out);
// 2. customers whose next boundary has passed (trial end, period end, cancel_at, grace end, access expiry) are
//    checked, with trigger `schedule`;
// 3. check runs whose process died are marked failed (scans are taken over by resumeScans instead).
import { markCheckDue } from '../../db/queries/customer-checks.js';
import { failAbandonedCheckRuns } from '../../db/queries/check-runs.js';
import { publishMessage } from '../../db/queries/messages.js';
import { customersPastBoundary, expirePastAccess } from '../../db/queries/parity-state.js';
import { newId } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { checkCustomers } from './run-checks.js';

/** Rows expired per transaction, and customers checked per sweep (the rest wait for the next minute). */
const EXPIRE_BATCH = 500;
const MAX_EXPIRED = 50_000;
const CHECK_BATCH = 2_000;
const MAX_CHECKED = 20_000;
/** A check run whose heartbeat is older than this lost its process. */
const ABANDONED_AFTER_MS = 10 * 60_000;

export async function sweepParity(ctx: Ctx): Promise<{ expired: number; checked: number }> {
  let expired = 0;
  for (;;) {
    const rows = await ctx.db.transaction(async (tx) => {
      const now = new Date(ctx.now());
      const batch = await expirePastAccess(tx, now, EXPIRE_BATCH);
      for (const row of batch) {
        const iso = (d: Date | null) => (d ? d.toISOString() : null);
        await publishMessage(tx, {
          id: newId('msg', ctx.now()),
          workspaceId: row.workspace_id,
          type: 'access.revoked',
          data: {
            access: {
              id: row.id,
              customerId: row.customer_id,
              provider: row.provider,
              resource: row.resource,
              providerAccessId: row.provider_access_id,
              status: 'expired',
              grantedAt: iso(row.granted_at),
              revokedAt: iso(row.expires_at),
              expiresAt: iso(row.expires_at),
            },
            reason: 'expired',
          },
          sourceProvider: 'sluice',
          sourceEventId: null,
          // One message per expiry: a row extended and expiring again later is a new fact.
          dedupeKey: `access.revoked:expired:${row.id}:${row.expires_at.toISOString()}`,
          firstAttemptDelaySeconds: ctx.config.retrySchedule[0] ?? 0,
        });
      }
      // Their customers' access changed: check them (their access_expired incidents resolve).
      const customers = [...new Set(batch.map((r) => r.customer_id).filter((id): id is string => id !== null))];
      await markCheckDue(tx, customers, now);
      return batch.length;
    });
    expired += rows;
    if (rows > 0) ctx.onDeliveriesQueued();
    if (rows < EXPIRE_BATCH || expired >= MAX_EXPIRED) break;
  }

  let checked = 0;
  while (checked < MAX_CHECKED) {
    const due = await customersPastBoundary(ctx.db, new Date(ctx.now()), CHECK_BATCH);
    if (due.size === 0) break;
    let round = 0;
    for (const [workspaceId, customerIds] of due) {
      try {
        const s = await checkCustomers(ctx, { workspaceId, customerIds, trigger: 'schedule' });
        round += s.checked;
      } catch (err) {
        // One workspace failing (deleted meanwhile) must not stop the others; the next sweep tries again.
        ctx.log.warn({ err, workspaceId }, 'boundary check failed');
      }
    }
    checked += round;
    // Nothing moved (every check failed): stop rather than loop on the same customers.
    if (round === 0) break;
  }

  await failAbandonedCheckRuns(ctx.db, new Date(ctx.now() - ABANDONED_AFTER_MS), new Date(ctx.now()));
  return { expired, checked };
}
