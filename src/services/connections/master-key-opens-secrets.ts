// Before a server exists (after `sluice migrate-data`): does this master key open the stored connection
// secrets? The same sample as the boot check, without a context, and never creating a key.
import type { Queryable } from '../../db/port.js';
import { recentSealedSecrets } from '../../db/queries/connections.js';
import { createSecretBox, SealedSecretUnreadable } from '../../lib/secret-box.js';

export type MasterKeyVerdict = 'ok' | 'no-secrets' | 'missing' | 'mismatch';

export async function masterKeyOpensSecrets(db: Queryable, masterKey: string | undefined): Promise<MasterKeyVerdict> {
  const sealed = await recentSealedSecrets(db, 50);
  if (sealed.length === 0) return 'no-secrets';
  if (masterKey === undefined) return 'missing';
  const box = createSecretBox(masterKey);
  const opens = sealed.some((row) => {
    try {
      box.open(row.secretsSealed);
      return true;
    } catch (err) {
      if (err instanceof SealedSecretUnreadable) return false;
      throw err;
    }
  });
  return opens ? 'ok' : 'mismatch';
}
