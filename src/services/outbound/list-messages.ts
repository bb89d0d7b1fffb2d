// Messages as the console lists them: by kind (business, raw, custom, test), type (exact or prefix.*) and a
// start time, newest first, keyset-paged; each in the body a delivery sends.
import { BUSINESS_EVENT_TYPES } from '../../catalog/index.js';
import { listMessagesPage, type MessageKind } from '../../db/queries/messages.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { WorkspaceNotFoundError } from '../../errors.js';
import { idFloor } from '../../lib/ids.js';
import type { Ctx } from '../context.js';
import { oneOf, optionalString, page, parseCursor, parseLimit, parseTime } from '../input.js';
import { checkEventTypes } from './check-event-types.js';
import { messageBody, type MessageBody } from './message-body.js';

export const MESSAGE_KINDS: readonly MessageKind[] = ['business', 'raw', 'custom', 'test'];

/** Which kind a listed message is (the same rule as the kind filter). */
export function kindOf(m: MessageBody & { custom?: boolean }): MessageKind {
  if (m.test) return 'test';
  if (m.type.startsWith('stripe.') || m.type.startsWith('piano.')) return 'raw';
  if (m.custom) return 'custom';
  return BUSINESS_EVENT_TYPES.includes(m.type) || m.type.startsWith('incident.') ? 'business' : 'custom';
}

export async function listMessagesOfKind(
  ctx: Ctx,
  workspaceId: string,
  q: Record<string, unknown>,
): Promise<{ data: (MessageBody & { kind: MessageKind })[]; nextCursor: string | null }> {
  const limit = parseLimit(q.limit);
  const before = parseCursor(q.cursor);
  const kind = oneOf(q.kind, 'kind', MESSAGE_KINDS);
  const type = optionalString(q, 'type', 200);
  const since = parseTime(q.since, 'since');
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  if (type !== undefined) await checkEventTypes(ctx, workspaceId, [type], 'type');
  const rows = await listMessagesPage(ctx.db, {
    workspaceId,
    kind,
    type,
    sinceId: since ? idFloor('msg', since.getTime()) : undefined,
    before,
    limit: limit + 1,
  });
  const p = page(rows, limit);
  return {
    data: p.data.map((m) => {
      const body = messageBody(m);
      return { ...body, kind: kindOf({ ...body, custom: m.dedupe_key.startsWith('custom:') }) };
    }),
    nextCursor: p.nextCursor,
  };
}
