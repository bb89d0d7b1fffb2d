// The parity settings as the API answers them: the effective policy (defaults filled in), when it was saved, and
// for each access key of the accessMap the sources its actual access comes from (a key with none is not checked).
import type { ParityPolicy } from '../../parity/policy.js';

export interface KeySources {
  key: string;
  sources: string[];
  /** The accessMap matches that map to this key. */
  matches: ParityPolicy['accessMap'][number]['match'][];
  checked: boolean;
}

export function paritySettingsView(policy: ParityPolicy, updatedAt: Date | null) {
  const keys = new Map<string, KeySources>();
  for (const e of policy.accessMap) {
    const k = keys.get(e.key) ?? { key: e.key, sources: [], matches: [], checked: false };
    for (const s of e.sources) if (!k.sources.includes(s)) k.sources.push(s);
    k.matches.push(e.match);
    k.checked = k.sources.length > 0;
    keys.set(e.key, k);
  }
  return { ...policy, keys: [...keys.values()], updatedAt: updatedAt ? updatedAt.toISOString() : null };
}

/** Fields of the answer that are not part of the policy: a PUT of a GET's answer ignores them. */
export const READ_ONLY_FIELDS = ['keys', 'updatedAt'] as const;
