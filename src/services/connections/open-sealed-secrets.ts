// Opening a connection's sealed secrets. A value the master key cannot open is a configuration problem an
// operator must fix (the key changed), not an internal error: it becomes SECRET_UNREADABLE with the cause and
// the fix, and the cause (which could quote nothing secret, but carries a stack) stays out of the answer.
import type { ConnectionRow } from '../../db/queries/connections.js';
import { SecretUnreadableError } from '../../errors.js';
import { SealedSecretUnreadable } from '../../lib/secret-box.js';
import type { Ctx } from '../context.js';

export function openSealedSecrets<T>(ctx: Ctx, row: ConnectionRow): T {
  try {
    return JSON.parse(ctx.secretBox.open(row.secretsSealed)) as T;
  } catch (err) {
    if (!(err instanceof SealedSecretUnreadable)) throw err;
    ctx.log.error(
      { workspaceId: row.workspaceId, provider: row.provider },
      'stored connection secrets cannot be decrypted with the current master key',
    );
    throw new SecretUnreadableError(row.provider);
  }
}

/** Whether the stored secrets open, for the health view; never throws for an unreadable value. */
export function sealedSecretsReadable(ctx: Ctx, row: ConnectionRow): boolean {
  try {
    ctx.secretBox.open(row.secretsSealed);
    return true;
  } catch (err) {
    if (err instanceof SealedSecretUnreadable) return false;
    throw err;
  }
}
