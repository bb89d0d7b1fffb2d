// Whether each provider's stored credentials can be used, for the health view: an unreadable value (master key
// changed, partial re-key) is otherwise only visible as 503s to the provider.
import { findConnection } from '../../db/queries/connections.js';
import type { Ctx } from '../context.js';
import { sealedSecretsReadable } from './open-sealed-secrets.js';

export type CredentialsState = 'ok' | 'unreadable' | 'not_connected';

export async function credentialsState(ctx: Ctx, workspaceId: string, provider: string): Promise<CredentialsState> {
  const row = await findConnection(ctx.db, workspaceId, provider);
  if (!row) return 'not_connected';
  return sealedSecretsReadable(ctx, row) ? 'ok' : 'unreadable';
}
