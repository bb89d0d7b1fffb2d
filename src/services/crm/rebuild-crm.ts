// Re-projects a workspace's CRM from its stored events. Dry run by default: everything happens in one
// transaction that is rolled back, and the difference between the CRM before and after is reported.
// Rows keep their ids, so references from messages and other systems stay valid; business events are not
// published again.
import { CRM_TABLES, clearCrm, relinkKeptAccess, snapshotCrm, type CrmRow, type CrmTable } from '../../db/queries/crm.js';
import { restoreCheckTimes } from '../../db/queries/customer-checks.js';
import { countProcessedEvents, processedEventsPage } from '../../db/queries/events.js';
import { snapshotsForEvents } from '../../db/queries/provider-snapshots.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { projectEvent } from '../../crm/handlers.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';

export interface TableChanges {
  added: number;
  changed: number;
  removed: number;
}

export interface RebuildReport {
  workspaceId: string;
  applied: boolean;
  events: number;
  tables: Record<CrmTable, TableChanges>;
  /** Up to 20 examples per table of what differs, as `provider id: column, column`. */
  examples: Record<string, string[]>;
}

class DryRun extends Error {}

// Bookkeeping that legitimately differs between two projections of the same facts; the parity check times are
// not the projection's at all (they are carried over, see below).
const IGNORED = new Set(['created_at', 'updated_at', 'check_due_at', 'next_check_at']);

function comparable(row: CrmRow): string {
  return JSON.stringify(
    Object.keys(row)
      .filter((k) => !IGNORED.has(k))
      .sort()
      .map((k) => [k, row[k] instanceof Date ? (row[k] as Date).toISOString() : row[k]]),
  );
}

function diff(before: Record<CrmTable, CrmRow[]>, after: Record<CrmTable, CrmRow[]>) {
  const tables = {} as Record<CrmTable, TableChanges>;
  const examples: Record<string, string[]> = {};
  for (const table of CRM_TABLES) {
    const old = new Map(before[table].map((r) => [String(r.provider_id), r]));
    const now = new Map(after[table].map((r) => [String(r.provider_id), r]));
    const t: TableChanges = { added: 0, changed: 0, removed: 0 };
    const ex: string[] = [];
    for (const [pid, row] of now) {
      const prev = old.get(pid);
      if (!prev) {
        t.added += 1;
        if (ex.length < 20) ex.push(`${pid}: added`);
      } else if (comparable(prev) !== comparable(row)) {
        t.changed += 1;
        const cols = Object.keys(row).filter((k) => !IGNORED.has(k) && JSON.stringify(row[k]) !== JSON.stringify(prev[k]));
        if (ex.length < 20) ex.push(`${pid}: ${cols.join(', ')}`);
      }
    }
    for (const pid of old.keys()) {
      if (!now.has(pid)) {
        t.removed += 1;
        if (ex.length < 20) ex.push(`${pid}: removed`);
      }
    }
    tables[table] = t;
    if (ex.length > 0) examples[table] = ex;
  }
  return { tables, examples };
}

export async function rebuildCrm(
  ctx: Ctx,
  input: { workspaceId: string; apply: boolean },
  onProgress: (done: number, total: number) => void = () => {},
): Promise<RebuildReport> {
  const { workspaceId, apply } = input;
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  let report: RebuildReport | undefined;
  try {
    await ctx.db.transaction(async (tx) => {
      const before = await snapshotCrm(tx, workspaceId);
      const ids = new Map<string, string>();
      for (const table of CRM_TABLES) for (const r of before[table]) ids.set(`${table}:${String(r.provider_id)}`, r.id);
      // Access the team's app, workflows and Sluice's repairs granted comes from no event: it is kept, not rebuilt.
      const kept = await clearCrm(tx, workspaceId);

      const total = await countProcessedEvents(tx, workspaceId);
      let done = 0;
      let cursor: { ts: Date; id: string } | undefined;
      for (;;) {
        const batch = await processedEventsPage(tx, workspaceId, cursor, 500);
        if (batch.length === 0) break;
        // Ties settled by a fetch from Stripe's API are settled again with the object fetched then.
        const snapshots = await snapshotsForEvents(
          tx,
          batch.map((e) => e.id),
        );
        for (const event of batch) {
          await projectEvent(tx, event, {
            publish: false,
            rowId: (table, providerId) => ids.get(`${table}:${providerId}`),
            snapshots: snapshots.get(event.id)?.objects,
            snapshotsFetchedAt: snapshots.get(event.id)?.fetchedAt,
            now: ctx.now,
          });
        }
        done += batch.length;
        onProgress(done, total);
        const last = batch[batch.length - 1]!;
        cursor = { ts: last.providerCreatedAt ?? new Date(0), id: last.id };
      }
      await relinkKeptAccess(tx, workspaceId, kept);
      // Checks that were pending stay pending; a rebuild changes nobody's state, so it asks for no new one.
      await restoreCheckTimes(
        tx,
        before.customers
          .filter((c) => c.check_due_at != null || c.next_check_at != null)
          .map((c) => ({
            id: c.id,
            checkDueAt: (c.check_due_at as Date | null) ?? null,
            nextCheckAt: (c.next_check_at as Date | null) ?? null,
          })),
      );
      const after = await snapshotCrm(tx, workspaceId);
      report = { workspaceId, applied: apply, events: done, ...diff(before, after) };
      if (!apply) throw new DryRun();
    });
  } catch (err) {
    if (!(err instanceof DryRun)) throw err;
  }
  ctx.log.info({ workspaceId, applied: apply, events: report!.events }, 'crm rebuild');
  return report!;
}
