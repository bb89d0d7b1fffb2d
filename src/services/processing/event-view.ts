import type { EventSummary, EventWithPayload } from '../../db/queries/events.js';

export interface EventView {
  id: string;
  provider: string;
  providerEventId: string;
  type: string;
  livemode: boolean | null;
  status: string;
  attempts: number;
  receivedAt: string;
  processedAt: string | null;
  nextAttemptAt: string | null;
  error?: string;
  payload?: unknown;
}

export function toEventView(e: EventSummary | EventWithPayload): EventView {
  const view: EventView = {
    id: e.id,
    provider: e.provider,
    providerEventId: e.providerEventId,
    type: e.type,
    livemode: e.livemode,
    status: e.status,
    attempts: e.attempts,
    receivedAt: e.receivedAt.toISOString(),
    processedAt: e.processedAt?.toISOString() ?? null,
    // Only meaningful while the event waits for a (re)try.
    nextAttemptAt: e.status === 'received' ? e.nextAttemptAt.toISOString() : null,
  };
  if (e.error) view.error = e.error;
  if ('payload' in e) view.payload = e.payload;
  return view;
}
