// Retention: what a workspace keeps, and the batched statements that prune the rest. Every statement touches at
// most `limit` rows and runs in its own short transaction, so ingest and workers never wait on it for long.
import { idFloor } from '../../lib/ids.js';
import type { Queryable } from '../port.js';
import { payloadOf } from './event-payload.js';

/** Every workspace with its own retentions (null: the global defaults). */
export async function workspaceRetention(
  db: Queryable,
  onlyId?: string,
): Promise<{ id: string; retentionDays: number | null; workflowRunRetentionDays: number | null }[]> {
  const { rows } = await db.query<{ id: string; retentionDays: number | null; workflowRunRetentionDays: number | null }>(
    `SELECT id, retention_days AS "retentionDays", workflow_run_retention_days AS "workflowRunRetentionDays"
     FROM workspaces WHERE ($1::text IS NULL OR id = $1) ORDER BY id`,
    [onlyId ?? null],
  );
  return rows;
}

export interface EventPruneBatch {
  /** Events of the batch looked at (every status), 0 when none is left below the cutoff. */
  scanned: number;
  /** The highest id looked at: the next batch starts after it. */
  lastId: string | null;
  deleted: number;
  rawPruned: number;
}

// The CRM tables whose rows record the provider event that last wrote them (source_event_id), and the newest
// entitlement summary of each customer (which a rebuild needs even when it wrote no access row).
const CRM_SOURCES = [
  'customers',
  'products',
  'prices',
  'subscriptions',
  'invoices',
  'payments',
  'checkout_sessions',
  'access',
  'entitlement_summaries',
];

/**
 * One batch of a workspace's events received before `cutoff`, in id order after `afterId`:
 *   - processed and ignored events are deleted (their customer_events links and provider snapshots go with them);
 *   - kept are: events still waiting ('received'); failed ones (an operator's to replay); an event whose raw
 *     body a pending delivery will still send (Piano forwards); and the event that last wrote a CRM row — a
 *     rebuild from the kept events then still arrives at every row's current version;
 *   - a deleted event's raw message gets the payload it referred to as its own data;
 *   - kept events lose their raw body (raw_pruned_at says so) unless a pending delivery needs it or it is the
 *     only content: no payload column, as for an event whose raw body is its payload (raw_is_payload, a Stripe
 *     event taken in whole: the body is then its only copy, and pruning it would save nothing but the payload).
 * The status is tested on the row being deleted, so an event replayed meanwhile (back to 'received') stays.
 */
export async function pruneEventBatch(
  db: Queryable,
  o: { workspaceId: string; cutoff: Date; afterId: string | null; limit: number },
): Promise<EventPruneBatch> {
  const crm = CRM_SOURCES.map((t) => `SELECT source_event_id AS v FROM ${t} WHERE workspace_id = $1 AND source_event_id IS NOT NULL`).join(
    ' UNION ALL ',
  );
  const { rows } = await db.query<EventPruneBatch>(
    `WITH batch AS (
       SELECT id, provider, provider_event_id, status, payload IS NULL AS bare, raw_pruned_at FROM events
       WHERE workspace_id = $1 AND id > $2 AND id < $3 AND received_at < $4
       ORDER BY id LIMIT $5
     ), awaited AS (
       SELECT DISTINCT m.source_provider AS provider, m.source_event_id AS provider_event_id
       FROM deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.status = 'pending' AND d.workspace_id = $1 AND m.source_event_id IS NOT NULL
     ), crm AS (
       -- A row's version names its event by the provider's event id (Stripe), or by Sluice's event id, alone
       -- or after an ordering prefix ending in ':' (Piano, which has no event ids).
       SELECT DISTINCT regexp_replace(v, '^[^:]*:', '') AS key FROM (${crm}) versions
     ), verdict AS (
       SELECT b.*,
              EXISTS (SELECT 1 FROM awaited a WHERE a.provider = b.provider AND a.provider_event_id = b.provider_event_id) AS awaited,
              (b.provider_event_id IN (SELECT key FROM crm) OR b.id IN (SELECT key FROM crm)) AS crm_source
       FROM batch b
     ), deleted AS (
       DELETE FROM events e USING verdict v
       WHERE e.id = v.id AND e.status IN ('processed', 'ignored') AND NOT v.awaited AND NOT v.crm_source
       RETURNING e.id, ${payloadOf('e')} AS payload
     ), kept_data AS (
       -- The event's raw message outlives it: the payload it referred to becomes its own data (migration 0029).
       -- Its dedupe key names the event, so the message is found on the (workspace, dedupe key) index.
       UPDATE messages m SET data = d.payload, data_event_id = NULL
       FROM deleted d
       WHERE m.workspace_id = $1 AND m.dedupe_key = 'raw:' || d.id AND m.data IS NULL AND m.data_event_id = d.id
     ), pruned AS (
       UPDATE events e SET raw_body = NULL, raw_bytes = NULL, raw_pruned_at = now()
       FROM verdict v
       WHERE e.id = v.id AND e.raw_pruned_at IS NULL AND NOT v.awaited AND NOT v.bare
         AND (e.status = 'failed' OR (e.status IN ('processed', 'ignored') AND v.crm_source))
       RETURNING e.id
     )
     SELECT (SELECT count(*)::int FROM batch) AS scanned, (SELECT max(id) FROM batch) AS "lastId",
            (SELECT count(*)::int FROM deleted) AS deleted, (SELECT count(*)::int FROM pruned) AS "rawPruned"`,
    // Ids start with their creation time: the id bound (a minute past the cutoff, for clock skew between the
    // application and the database) makes the batch a range of the (workspace, id) index.
    [o.workspaceId, o.afterId ?? '', idFloor('ev', o.cutoff.getTime() + 60_000), o.cutoff, o.limit],
  );
  return rows[0]!;
}

/** Deletes up to `limit` delivery attempts of the workspace started before `cutoff`, except those of deliveries
 *  still pending (their history decides the next retry). Returns how many went. */
export async function pruneAttemptBatch(db: Queryable, o: { workspaceId: string; cutoff: Date; limit: number }): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM delivery_attempts WHERE id IN (
       SELECT a.id FROM endpoints e
       JOIN delivery_attempts a ON a.endpoint_id = e.id AND a.started_at < $2
       JOIN deliveries d ON d.id = a.delivery_id AND d.status <> 'pending'
       WHERE e.workspace_id = $1
       LIMIT $3
     )`,
    [o.workspaceId, o.cutoff, o.limit],
  );
  return rowCount;
}

/**
 * Deletes up to `limit` workflow runs of the workspace that finished (succeeded, failed, filtered) before `cutoff`,
 * with their step rows and attempts (ON DELETE CASCADE). A running or waiting run has no finished_at and is
 * never taken; the status is tested again on the row being deleted, so a run retried or rerun meanwhile stays.
 * Returns how many runs went.
 */
export async function pruneWorkflowRunBatch(db: Queryable, o: { workspaceId: string; cutoff: Date; limit: number }): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM workflow_runs WHERE id IN (
       SELECT id FROM workflow_runs
       WHERE workspace_id = $1 AND status IN ('succeeded', 'failed', 'filtered') AND finished_at < $2
       LIMIT $3
     ) AND status IN ('succeeded', 'failed', 'filtered') AND finished_at < $2`,
    [o.workspaceId, o.cutoff, o.limit],
  );
  return rowCount;
}

/**
 * Deletes up to `limit` parity check runs of the workspace that finished (succeeded, failed) and were created
 * before `cutoff`. The event-triggered checker records a run for every batch of customers it checks (about one a
 * second under steady traffic), each with up to 200 findings: kept for ever they would outgrow every other table.
 * Scan runs (kind 'scan', one a day) and runs still queued or running are kept. Returns how many went.
 */
export async function pruneCheckRunBatch(db: Queryable, o: { workspaceId: string; cutoff: Date; limit: number }): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM check_runs WHERE id IN (
       SELECT id FROM check_runs
       WHERE workspace_id = $1 AND created_at < $2 AND kind = 'check' AND status IN ('succeeded', 'failed')
       LIMIT $3
     ) AND kind = 'check' AND status IN ('succeeded', 'failed')`,
    [o.workspaceId, o.cutoff, o.limit],
  );
  return rowCount;
}

const LEASE_KEY = 'retention.lease';

/** Takes (or renews) the one retention lease for `holder` until `seconds` from now; false while another live
 *  holder has it. A holder that died loses it when it expires. */
export async function takeRetentionLease(db: Queryable, holder: string, seconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO settings (key, value, updated_at)
     VALUES ($1, json_build_object('holder', $2::text, 'until', now() + make_interval(secs => $3))::text, now())
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
     WHERE (settings.value::jsonb ->> 'until')::timestamptz < now() OR settings.value::jsonb ->> 'holder' = $2`,
    [LEASE_KEY, holder, seconds],
  );
  return rowCount === 1;
}

export async function releaseRetentionLease(db: Queryable, holder: string): Promise<void> {
  await db.query(`DELETE FROM settings WHERE key = $1 AND value::jsonb ->> 'holder' = $2`, [LEASE_KEY, holder]);
}
