// The last step of ingest for every provider: keep the verified event. Content PostgreSQL cannot hold as jsonb
// is still kept (its exact bytes, no payload) and marked failed at once with the reason, so the provider gets
// its 200 and nobody waits on retries that can never succeed. Only a store outage answers 503.
import { insertEvent, type NewEvent } from '../../db/queries/events.js';
import { StoreUnavailableError } from '../../errors.js';
import { findUnstorable } from '../../inbound/storable-payload.js';
import type { Ctx } from '../context.js';
import { describeFailure } from '../processing/failure-reason.js';

export type InboundEvent = Omit<NewEvent, 'rawBody' | 'rawBytes'> & {
  /** The body exactly as received. */
  raw: Buffer | string;
  /** Set by the caller when it already knows the content cannot be processed (e.g. the body is not UTF-8). */
  unstorable?: string | undefined;
};

function rawColumns(raw: Buffer | string, exactText: string | undefined): Pick<NewEvent, 'rawBody' | 'rawBytes'> {
  if (typeof raw === 'string') return { rawBody: raw, rawBytes: null };
  return exactText === undefined ? { rawBody: null, rawBytes: raw } : { rawBody: exactText, rawBytes: null };
}

/**
 * Stores the event; false when it is a duplicate. `failed` tells the caller not to wake the worker. An event
 * stored already settled (failed: unstorable content; ignored: demo workspace, mode mismatch) never reaches
 * the worker, so its outcome is counted here, or sluice_event_outcomes_total would miss it.
 */
export async function storeInboundEvent(
  ctx: Ctx,
  event: InboundEvent,
  exactText: string | undefined,
): Promise<{ stored: boolean; failed: boolean }> {
  const result = await storeEvent(ctx, event, exactText);
  if (result.stored) {
    const outcome = result.failed ? 'failed' : event.status === 'received' ? undefined : event.status;
    if (outcome) ctx.metrics.eventOutcomes.inc({ provider: event.provider, outcome });
  }
  return result;
}

async function storeEvent(ctx: Ctx, event: InboundEvent, exactText: string | undefined): Promise<{ stored: boolean; failed: boolean }> {
  const { raw, unstorable, ...rest } = event;
  const columns = rawColumns(raw, exactText);
  const problem = unstorable ?? (rest.payload === null ? undefined : findUnstorable(rest.payload));
  const asFailed = (reason: string): NewEvent => ({ ...rest, ...columns, payload: null, status: 'failed', error: reason });
  if (problem !== undefined) {
    ctx.log.warn(
      { workspaceId: rest.workspaceId, provider: rest.provider, reason: problem },
      'event stored as failed: content cannot be processed',
    );
    return { stored: await insertEvent(ctx.db, asFailed(`cannot be processed: ${problem}`)), failed: true };
  }
  try {
    return { stored: await insertEvent(ctx.db, { ...rest, ...columns }), failed: false };
  } catch (err) {
    // What the check above does not foresee (a server with a smaller stack, a new jsonb rule) still ends as a
    // failed event rather than a 500, as long as the database judged the data and not its own health.
    if (err instanceof StoreUnavailableError) throw err;
    const failure = describeFailure(err);
    if (!failure.permanent) throw err;
    ctx.log.warn(
      { err, workspaceId: rest.workspaceId, provider: rest.provider },
      'event stored as failed: the database refused its content',
    );
    return { stored: await insertEvent(ctx.db, asFailed(`cannot be processed: ${failure.reason}`)), failed: true };
  }
}
