// Removes an endpoint with its pending deliveries and their history.
import { deleteEndpoint as removeEndpoint } from '../../db/queries/endpoints.js';
import { NotFoundError } from '../../errors.js';
import type { Ctx } from '../context.js';

export async function deleteEndpoint(ctx: Ctx, workspaceId: string, endpointId: string, what?: 'hook'): Promise<void> {
  if (!(await removeEndpoint(ctx.db, workspaceId, endpointId, what))) {
    throw new NotFoundError(
      what === 'hook' ? 'HOOK_NOT_FOUND' : 'ENDPOINT_NOT_FOUND',
      `no ${what ?? 'endpoint'} ${JSON.stringify(endpointId)} in this workspace`,
    );
  }
  ctx.log.info({ workspaceId, endpointId }, `${what ?? 'endpoint'} deleted`);
}
