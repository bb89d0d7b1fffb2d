// Read side of the CRM: lists are newest first, keyset-paged by row id.
import { containsPattern } from '../like.js';
import type { Queryable } from '../port.js';

type Row = Record<string, unknown> & { id: string };

export interface ListOptions {
  workspaceId: string;
  before?: string | undefined;
  limit: number;
}

export async function listCustomers(
  db: Queryable,
  o: ListOptions & { email?: string | undefined; q?: string | undefined },
): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM customers
     WHERE workspace_id = $1 AND stub = false
       AND ($2::text IS NULL OR lower(email) = lower($2))
       AND ($3::text IS NULL OR email ILIKE $6 OR name ILIKE $6 OR provider_id = $3)
       AND ($4::text IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [o.workspaceId, o.email ?? null, o.q ?? null, o.before ?? null, o.limit, o.q == null ? null : containsPattern(o.q)],
  );
  return rows;
}

export async function findCustomer(db: Queryable, workspaceId: string, id: string): Promise<Row | undefined> {
  const { rows } = await db.query<Row>(
    'SELECT * FROM customers WHERE workspace_id = $1 AND (id = $2 OR provider_id = $2) ORDER BY stub LIMIT 1',
    [workspaceId, id],
  );
  return rows[0];
}

const TABLES = {
  subscriptions: 'subscriptions',
  invoices: 'invoices',
  payments: 'payments',
  access: 'access',
  products: 'products',
  prices: 'prices',
  checkout_sessions: 'checkout_sessions',
} as const;

export async function listRows(
  db: Queryable,
  table: keyof typeof TABLES,
  o: ListOptions & { customerId?: string | undefined; status?: string | undefined; kind?: string | undefined },
): Promise<Row[]> {
  // The catalogue (products, prices) has neither a customer nor a status to filter on.
  const perCustomer = table !== 'products' && table !== 'prices';
  const { rows } = await db.query<Row>(
    `SELECT * FROM ${TABLES[table]}
     WHERE workspace_id = $1
       ${perCustomer ? 'AND ($2::text IS NULL OR customer_id = $2) AND ($3::text IS NULL OR status = $3)' : 'AND $2::text IS NULL AND $3::text IS NULL'}
       AND ($4::text IS NULL OR id < $4)
       ${table === 'payments' ? 'AND ($6::text IS NULL OR kind = $6)' : 'AND $6::text IS NULL'}
     ORDER BY id DESC LIMIT $5`,
    [
      o.workspaceId,
      perCustomer ? (o.customerId ?? null) : null,
      perCustomer ? (o.status ?? null) : null,
      o.before ?? null,
      o.limit,
      table === 'payments' ? (o.kind ?? null) : null,
    ],
  );
  return rows;
}

export async function customerTimeline(db: Queryable, customerId: string, limit: number): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT e.id, e.provider, e.provider_event_id, e.type, e.status, e.received_at, e.provider_created_at
     FROM customer_events ce JOIN events e ON e.id = ce.event_id
     WHERE ce.customer_id = $1 ORDER BY e.provider_created_at DESC NULLS LAST, e.id DESC LIMIT $2`,
    [customerId, limit],
  );
  return rows;
}

export async function listMessages(
  db: Queryable,
  o: ListOptions & { type?: string | undefined; since?: Date | undefined },
): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM messages_with_data WHERE workspace_id = $1
       AND ($2::text IS NULL OR type = $2 OR (right($2, 2) = '.*' AND left(type, length($2) - 1) = left($2, -1)))
       AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::text IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [o.workspaceId, o.type ?? null, o.since ?? null, o.before ?? null, o.limit],
  );
  return rows;
}

/** Every customer row of one person (rows linked by person_id), the given one first. */
export async function customersOfPerson(db: Queryable, customer: Row): Promise<Row[]> {
  if (!customer.person_id) return [customer];
  const { rows } = await db.query<Row>('SELECT * FROM customers WHERE workspace_id = $1 AND person_id = $2 ORDER BY id', [
    customer.workspace_id,
    customer.person_id,
  ]);
  return [customer, ...rows.filter((r) => r.id !== customer.id)];
}

export interface LinkedCustomer {
  eventId: string;
  id: string;
  provider: string;
  providerId: string;
  email: string | null;
  name: string | null;
}

/** The customers each of these events is linked to (customer_events, read by its event index). */
export async function customersOfEvents(db: Queryable, workspaceId: string, eventIds: string[]): Promise<LinkedCustomer[]> {
  if (eventIds.length === 0) return [];
  const { rows } = await db.query<LinkedCustomer>(
    `SELECT ce.event_id AS "eventId", c.id, c.provider, c.provider_id AS "providerId", c.email, c.name
     FROM customer_events ce JOIN customers c ON c.id = ce.customer_id
     WHERE ce.event_id = ANY($2::text[]) AND c.workspace_id = $1
     ORDER BY ce.event_id, c.id`,
    [workspaceId, eventIds.slice(0, 500)],
  );
  return rows;
}

export interface TouchedRow {
  table: string;
  id: string;
  providerId: string;
  status: string | null;
}

const CUSTOMER_TABLES = ['subscriptions', 'invoices', 'payments', 'checkout_sessions', 'access'] as const;

/** The CRM rows of these customers whose current version an event wrote (source_event_id is the provider's
 *  event id), read through the per-customer indexes; at most `limit` per table. */
export async function rowsWrittenBy(
  db: Queryable,
  workspaceId: string,
  customerIds: string[],
  sourceEventId: string,
  limit = 50,
): Promise<TouchedRow[]> {
  if (customerIds.length === 0) return [];
  const branches = [
    `(SELECT 'customers' AS "table", id, provider_id AS "providerId", NULL::text AS status FROM customers
      WHERE workspace_id = $1 AND id = ANY($2::text[]) AND source_event_id = $3 LIMIT $4)`,
    ...CUSTOMER_TABLES.map(
      (t) => `(SELECT '${t}' AS "table", id, provider_id AS "providerId", status FROM ${t}
      WHERE workspace_id = $1 AND customer_id = ANY($2::text[]) AND source_event_id = $3 LIMIT $4)`,
    ),
  ];
  const { rows } = await db.query<TouchedRow>(branches.join(' UNION ALL '), [workspaceId, customerIds.slice(0, 50), sourceEventId, limit]);
  return rows;
}
