// Provider objects fetched to settle same-second ties (migrations/0003_provider_snapshots.sql).
import type { Queryable } from '../port.js';

export type Snapshots = Map<string, Record<string, unknown>>;

export async function saveSnapshot(db: Queryable, eventId: string, objectId: string, object: unknown, fetchedAt: Date): Promise<void> {
  await db.query(
    `INSERT INTO provider_snapshots (event_id, object_id, object, fetched_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (event_id, object_id) DO UPDATE SET object = EXCLUDED.object, fetched_at = EXCLUDED.fetched_at`,
    [eventId, objectId, JSON.stringify(object), fetchedAt],
  );
}

/** Snapshots of the given events, by event id then object id, with when each was fetched. */
export async function snapshotsForEvents(
  db: Queryable,
  eventIds: string[],
): Promise<Map<string, { objects: Snapshots; fetchedAt: Map<string, Date> }>> {
  const out = new Map<string, { objects: Snapshots; fetchedAt: Map<string, Date> }>();
  if (eventIds.length === 0) return out;
  const { rows } = await db.query<{ event_id: string; object_id: string; object: Record<string, unknown>; fetched_at: Date }>(
    'SELECT event_id, object_id, object, fetched_at FROM provider_snapshots WHERE event_id = ANY($1::text[])',
    [eventIds],
  );
  for (const r of rows) {
    let m = out.get(r.event_id);
    if (!m) out.set(r.event_id, (m = { objects: new Map(), fetchedAt: new Map() }));
    m.objects.set(r.object_id, r.object);
    m.fetchedAt.set(r.object_id, r.fetched_at);
  }
  return out;
}
