// At boot: does the master key still open the stored credentials? When none of the recent ones opens, the key
// was replaced (SLUICE_SECRET_KEY changed, secret.key regenerated or lost) and every webhook would fail, so the
// process refuses to start with the cause and the fix. When only some fail (a partial re-key), it starts and
// says which; those workspaces answer SECRET_UNREADABLE and their health view shows it.
import { recentSealedSecrets } from '../../db/queries/connections.js';
import { AppError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { sealedSecretsReadable } from './open-sealed-secrets.js';

const SAMPLE = 50;

export class MasterKeyMismatchError extends AppError {
  constructor(checked: number, keySource: string) {
    super(
      'MASTER_KEY_MISMATCH',
      `the master key (${keySource}) does not open any of the ${checked} most recently saved connection secrets: ` +
        'it is not the key they were sealed with. Restore the previous key (set SLUICE_SECRET_KEY to it, or put the ' +
        'original secret.key back in the data dir). If that key is lost, start once with ' +
        "SLUICE_ALLOW_UNREADABLE_SECRETS=1 and save each workspace's connections again (their webhooks answer " +
        '503 SECRET_UNREADABLE until then).',
      500,
    );
  }
}

export async function checkMasterKey(ctx: Ctx, keySource: string): Promise<{ checked: number; unreadable: string[] }> {
  const rows = await recentSealedSecrets(ctx.db, SAMPLE);
  const unreadable = rows.filter((r) => !sealedSecretsReadable(ctx, r)).map((r) => `${r.workspaceId}/${r.provider}`);
  if (rows.length > 0 && unreadable.length === rows.length && !ctx.config.allowUnreadableSecrets) {
    throw new MasterKeyMismatchError(rows.length, keySource);
  }
  if (unreadable.length > 0) {
    ctx.log.error(
      { unreadable, checked: rows.length },
      'some stored connection secrets cannot be decrypted with the current master key; those workspaces answer SECRET_UNREADABLE until their connections are saved again',
    );
  }
  return { checked: rows.length, unreadable };
}
