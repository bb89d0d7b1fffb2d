// Provider objects fetched to settle same-second ties (migrations/0003_provider_snapshots.sql).
import type { Queryable } from '../port.js';

export type Snapshots = Map<string, Record<string, unknown>>;

export async function saveSnapshot(db: Queryable, eventId: string, objectId: string, object: unknown): Promise<void> {
  await db.query(
    `INSERT INTO provider_snapshots (event_id, object_id, object) VALUES ($1, $2, $3)
     ON CONFLICT (event_id, object_id) DO UPDATE SET object = EXCLUDED.object, fetched_at = now()`,
    [eventId, objectId, JSON.stringify(object)],
  );
}

/** Snapshots of the given events, by event id then object id. */
export async function snapshotsForEvents(db: Queryable, eventIds: string[]): Promise<Map<string, Snapshots>> {
  const out = new Map<string, Snapshots>();
  if (eventIds.length === 0) return out;
  const { rows } = await db.query<{ event_id: string; object_id: string; object: Record<string, unknown> }>(
    'SELECT event_id, object_id, object FROM provider_snapshots WHERE event_id = ANY($1::text[])',
    [eventIds],
  );
  for (const r of rows) {
    let m = out.get(r.event_id);
    if (!m) out.set(r.event_id, (m = new Map()));
    m.set(r.object_id, r.object);
  }
  return out;
}
