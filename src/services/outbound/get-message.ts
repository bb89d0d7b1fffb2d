// One message as its deliveries send it (the body of INTERFACE.md "Outbound webhooks").
import { findMessage } from '../../db/queries/messages.js';
import { NotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { messageBody, type MessageBody } from './message-body.js';

export async function getMessage(ctx: Ctx, workspaceId: string, id: string): Promise<MessageBody> {
  const m = await findMessage(ctx.db, workspaceId, id);
  if (!m) throw new NotFoundError('MESSAGE_NOT_FOUND', `no message ${JSON.stringify(id)} in this workspace`);
  return messageBody(m);
}
