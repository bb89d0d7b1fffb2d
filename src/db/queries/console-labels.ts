// Names for ids the console shows in lists: the customers an incident list is about, read by primary key in
// one query (a page holds at most a few hundred).
import type { Queryable } from '../port.js';

export interface CustomerLabelRow {
  id: string;
  name: string | null;
  email: string | null;
  providerId: string;
}

export async function customerLabelRows(db: Queryable, workspaceId: string, ids: readonly string[]): Promise<CustomerLabelRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<CustomerLabelRow>(
    `SELECT id, name, email, provider_id AS "providerId" FROM customers WHERE workspace_id = $1 AND id = ANY($2::text[])`,
    [workspaceId, ids.slice(0, 500)],
  );
  return rows;
}
