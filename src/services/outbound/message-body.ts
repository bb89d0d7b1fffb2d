// The JSON body of a delivery (INTERFACE.md "Outbound webhooks"), built from the stored message alone, so
// every attempt of a delivery sends the same bytes. A test message carries `test: true`, so no receiver or
// list can take its synthetic data for a real fact; real messages carry no flag (bodies as before).
import type { MessageRow } from '../../db/queries/messages.js';

export interface MessageBody {
  id: string;
  type: string;
  timestamp: string;
  workspaceId: string;
  data: unknown;
  /** `reason` on what Sluice itself published (provider `sluice`): why, e.g. "parity_repair", "expired". */
  source: { provider: string; eventId: string | null; reason?: string } | null;
  test?: true;
}

/** Why Sluice published a message of its own: the `reason` its data carries. */
function sluiceReason(m: Pick<MessageRow, 'source_provider' | 'data'>): { reason?: string } {
  if (m.source_provider !== 'sluice') return {};
  const reason = (m.data as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? { reason } : {};
}

/** The `source` of a message body: the provider and event it came from, and for Sluice's own messages why. */
export function messageSource(m: Pick<MessageRow, 'source_provider' | 'source_event_id' | 'data'>): MessageBody['source'] {
  return m.source_provider ? { provider: m.source_provider, eventId: m.source_event_id, ...sluiceReason(m) } : null;
}

export function messageBody(m: MessageRow): MessageBody {
  return {
    id: m.id,
    type: m.type,
    timestamp: m.created_at.toISOString(),
    workspaceId: m.workspace_id,
    data: m.data,
    source: messageSource(m),
    ...(m.test ? { test: true as const } : {}),
  };
}
