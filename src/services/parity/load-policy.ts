// The parity policy a workspace runs under: what it saved, or the defaults.
import type { Queryable } from '../../db/port.js';
import { findParityPolicy } from '../../db/queries/parity-settings.js';
import { storedPolicy, type ParityPolicy } from '../../parity/policy.js';

export async function loadPolicy(db: Queryable, workspaceId: string): Promise<ParityPolicy> {
  return storedPolicy((await findParityPolicy(db, workspaceId))?.policy);
}
