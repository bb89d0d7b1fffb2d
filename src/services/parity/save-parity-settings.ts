// PUT …/settings/parity: replaces the policy (fields left out take their defaults). Every problem is listed and
// nothing is saved; an accessMap match naming a price, product, lookup key or Piano resource the CRM has never
// seen is refused too (most often a typo), unless `force` (a team may configure before the first events arrive).
// Saving is audited and asks for a check of every customer the new policy may judge differently.
import type { Queryable } from '../../db/port.js';
import { markLiveCustomersCheckDue } from '../../db/queries/customer-checks.js';
import { findParityPolicy, knownAccessMatches, saveParityPolicy } from '../../db/queries/parity-settings.js';
import { findWorkspace } from '../../db/queries/workspaces.js';
import { UnprocessableError, WorkspaceNotFoundError } from '../../errors.js';
import { parsePolicy, storedPolicy, type ParityPolicy } from '../../parity/policy.js';
import { recordAudit, type Actor } from '../audit/record-audit.js';
import type { Ctx } from '../context.js';
import { paritySettingsView, READ_ONLY_FIELDS } from './parity-settings-view.js';

const MATCH_WORDS = {
  price: 'Stripe price',
  product: 'Stripe product',
  lookupKey: 'lookup key (on a Stripe price or entitlement feature)',
  rid: 'Piano resource (rid)',
} as const;

async function unknownMatches(db: Queryable, workspaceId: string, policy: ParityPolicy) {
  const wanted = { prices: [] as string[], products: [] as string[], lookupKeys: [] as string[], rids: [] as string[] };
  for (const { match } of policy.accessMap) {
    if (match.price) wanted.prices.push(match.price);
    if (match.product) wanted.products.push(match.product);
    if (match.lookupKey) wanted.lookupKeys.push(match.lookupKey);
    if (match.rid) wanted.rids.push(match.rid);
  }
  const known = await knownAccessMatches(db, workspaceId, wanted);
  const problems: { path: string; message: string }[] = [];
  policy.accessMap.forEach(({ match }, i) => {
    const [field, value] = Object.entries(match)[0] as [keyof typeof MATCH_WORDS, string];
    const set = { price: known.prices, product: known.products, lookupKey: known.lookupKeys, rid: known.rids }[field];
    if (!set.has(value))
      problems.push({
        path: `accessMap[${i}].match.${field}`,
        message: `no ${MATCH_WORDS[field]} ${JSON.stringify(value)} has been seen in this workspace`,
      });
  });
  return problems;
}

export async function saveParitySettings(ctx: Ctx, input: { workspaceId: string; body: unknown; force?: boolean; actor: Actor }) {
  let body = input.body;
  // The GET answer PUT back as it is (perhaps edited) is accepted: its read-only fields are not policy fields.
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    body = Object.fromEntries(Object.entries(body).filter(([k]) => !(READ_ONLY_FIELDS as readonly string[]).includes(k)));
  }
  const parsed = parsePolicy(body);
  if (!parsed.ok) {
    throw new UnprocessableError(
      'VALIDATION_FAILED',
      `the parity policy has ${parsed.problems.length} problem${parsed.problems.length === 1 ? '' : 's'}: ` +
        parsed.problems
          .slice(0, 5)
          .map((p) => `${p.path || 'body'}: ${p.message}`)
          .join('; ') +
        '; nothing was saved',
      { problems: parsed.problems },
    );
  }
  const policy = parsed.policy;
  const { workspaceId } = input;
  if (!(await findWorkspace(ctx.db, workspaceId))) throw new WorkspaceNotFoundError(workspaceId);
  const saved = await ctx.db.transaction(async (tx) => {
    if (!input.force) {
      const problems = await unknownMatches(tx, workspaceId, policy);
      if (problems.length > 0)
        throw new UnprocessableError(
          'UNKNOWN_ACCESS_MATCH',
          `${problems.length} accessMap match${problems.length === 1 ? '' : 'es'} name${problems.length === 1 ? 's' : ''} nothing seen in this workspace yet: ` +
            problems
              .slice(0, 5)
              .map((p) => `${p.path}: ${p.message}`)
              .join('; ') +
            '; nothing was saved. Check for a typo; if the prices, products or resources simply have not appeared in an event yet, save again with ?force=true',
          { problems },
        );
    }
    const before = storedPolicy((await findParityPolicy(tx, workspaceId))?.policy);
    await saveParityPolicy(tx, workspaceId, policy);
    const due = await markLiveCustomersCheckDue(tx, workspaceId, new Date(ctx.now() + ctx.config.checkDebounceMs));
    const changed = (Object.keys(policy) as (keyof ParityPolicy)[]).filter((k) => JSON.stringify(policy[k]) !== JSON.stringify(before[k]));
    await recordAudit({ ...ctx, db: tx as Ctx['db'] }, input.actor, workspaceId, 'parity.settings.updated', workspaceId, {
      changed,
      accessMapEntries: policy.accessMap.length,
      repair: policy.repair,
      ...(input.force ? { force: true } : {}),
    });
    ctx.log.info({ workspaceId, changed, customersDue: due }, 'parity settings saved');
    return findParityPolicy(tx, workspaceId);
  });
  return paritySettingsView(policy, saved?.updatedAt ?? null);
}
