// The JSON body of a delivery (INTERFACE.md "Outbound webhooks"), built from the stored message alone, so
// every attempt of a delivery sends the same bytes. A test message carries `test: true`, so no receiver or
// list can take its synthetic data for a real fact; real messages carry no flag (bodies as before). A message
// caused by an event a reconciliation scan found (never delivered by the provider) says so in
// `source.recovered`, so a receiver can tell a late fact from a live one.
import type { MessageRow } from '../../db/queries/messages.js';

export interface MessageBody {
  id: string;
  type: string;
  timestamp: string;
  workspaceId: string;
  data: unknown;
  source: { provider: string; eventId: string | null; recovered?: true } | null;
  test?: true;
}

export function messageBody(m: MessageRow): MessageBody {
  return {
    id: m.id,
    type: m.type,
    timestamp: m.created_at.toISOString(),
    workspaceId: m.workspace_id,
    data: m.data,
    source: m.source_provider
      ? { provider: m.source_provider, eventId: m.source_event_id, ...(m.recovered ? { recovered: true as const } : {}) }
      : null,
    ...(m.test ? { test: true as const } : {}),
  };
}
