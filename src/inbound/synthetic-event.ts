// Events a reconciliation scan makes up from what a provider's API answered (a subscription as Stripe has it
// now), so a repair goes through the same order-safe projection as a delivered event. Their ids are derived
// from the object and its content: the same answer twice is the same event (stored once, projected once), and a
// changed answer is a new one. They can never collide with a provider's own ids (Stripe's ids have no `_` after
// their prefix; Piano's stored ids are `sha256:` hashes).
import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.js';

const STRIPE_PREFIX = 'evt_sluice_';
const PIANO_PREFIX = 'sluice_scan:';

export function syntheticEventId(provider: 'stripe' | 'piano', objectId: string, content: unknown): string {
  const hash = createHash('sha256')
    .update(`${objectId}\n${canonicalJson(content)}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
  return provider === 'stripe' ? `${STRIPE_PREFIX}${hash}` : `${PIANO_PREFIX}${hash}`;
}

export function isSyntheticEventId(providerEventId: string): boolean {
  return providerEventId.startsWith(STRIPE_PREFIX) || providerEventId.startsWith(PIANO_PREFIX);
}
