// The parity policy of a workspace: read by any role, replaced by admins.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { getParitySettings } from '../../services/parity/get-parity-settings.js';
import { saveParitySettings } from '../../services/parity/save-parity-settings.js';
import { adminOnly } from '../plugins/auth.js';
import { apiErrors, isoTime, nullable, oneOf, query, view, WsParams } from '../schemas/common.js';

// Under the workspaces' settings in the API document.
const tags = ['workspaces'];
const Sources = Type.Array(oneOf(['stripe_entitlements', 'piano', 'workflows', 'app'] as const));
const Match = view(
  {
    price: Type.Optional(Type.String()),
    product: Type.Optional(Type.String()),
    lookupKey: Type.Optional(Type.String()),
    rid: Type.Optional(Type.String()),
  },
  'exactly one of price, product, lookupKey (Stripe price or entitlement feature), rid (Piano resource)',
);

const ParitySettings = view(
  {
    grantStatuses: Type.Array(Type.String(), { description: 'Stripe subscription statuses that grant access' }),
    pastDueGraceDays: Type.Number({ description: 'days a past_due subscription keeps granting access' }),
    pausedGrantsAccess: Type.Boolean(),
    pauseCollectionGrantsAccess: Type.Boolean(),
    repair: oneOf(['report', 'auto'] as const),
    accessMap: Type.Array(view({ match: Match, key: Type.String(), sources: Sources })),
    lagThresholdSeconds: Type.Number(),
    stuckEventMinutes: Type.Number(),
    scanSchedule: Type.String({ description: 'cron expression, UTC' }),
    keys: Type.Array(view({ key: Type.String(), sources: Sources, matches: Type.Array(Match), checked: Type.Boolean() }), {
      description: 'read-only: each access key of the accessMap, its sources (a key with none is not checked) and matches',
    }),
    updatedAt: nullable(isoTime('read-only: when the policy was saved; null while the defaults apply')),
  },
  'the effective parity policy, defaults filled in',
);

// Shapes are checked by the policy parser, which lists every problem (422), not by the schema (400 on the first).
const policyField = (description: string) => Type.Optional(Type.Unknown({ description }));
const PolicyBody = Type.Object(
  {
    grantStatuses: policyField('Stripe statuses that grant access (default ["active", "trialing"])'),
    pastDueGraceDays: policyField('0–365 (default 7)'),
    pausedGrantsAccess: policyField('boolean (default false)'),
    pauseCollectionGrantsAccess: policyField('boolean (default true)'),
    repair: policyField('"report" (default) or "auto"'),
    accessMap: policyField('[{match: {price|product|lookupKey|rid}, key, sources: [stripe_entitlements|piano|workflows|app]}]'),
    lagThresholdSeconds: policyField('10–604800 (default 300)'),
    stuckEventMinutes: policyField('1–43200 (default 60)'),
    scanSchedule: policyField('cron expression, UTC (default "0 3 * * *")'),
    keys: policyField('ignored (read-only field of the GET answer)'),
    updatedAt: policyField('ignored (read-only field of the GET answer)'),
  },
  { additionalProperties: true, description: 'the whole policy: fields left out take their defaults' },
);

export async function paritySettingsRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.get(
    '/workspaces/:ws/settings/parity',
    {
      schema: {
        summary: 'The parity policy in effect (defaults filled in) and the sources of each access key',
        tags,
        params: WsParams,
        response: { 200: ParitySettings, ...apiErrors() },
      },
    },
    async (r) => getParitySettings(ctx, r.params.ws),
  );
  app.put(
    '/workspaces/:ws/settings/parity',
    {
      config: adminOnly,
      schema: {
        summary: 'Replace the parity policy (admin); 422 lists every problem, and matches naming nothing seen yet unless ?force=true',
        tags,
        params: WsParams,
        querystring: query({
          force: Type.Optional(oneOf(['true', 'false'] as const, 'true: accept accessMap matches not seen in any event yet')),
        }),
        body: PolicyBody,
        response: { 200: ParitySettings, ...apiErrors(422) },
      },
    },
    async (r) => saveParitySettings(ctx, { workspaceId: r.params.ws, body: r.body, force: r.query.force === 'true', actor: r.principal }),
  );
}
