// Parity checks: run one now, the run history, and one customer's parity (expected vs actual per access key).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { CHECK_RUN_PREFIX } from '../../services/parity/check-run-view.js';
import { customerParity } from '../../services/parity/customer-parity.js';
import { getCheckRun, listCheckRuns, RUN_STATUSES } from '../../services/parity/list-check-runs.js';
import { requestCheck } from '../../services/parity/request-check.js';
import { CHECK_TRIGGERS } from '../../services/parity/run-checks.js';
import { FINDING_KINDS } from '../../parity/check.js';
import {
  apiErrors,
  body,
  idOf,
  isoTime,
  jsonObject,
  nullable,
  oneOf,
  pageOf,
  paging,
  query,
  text,
  view,
  wsAnd,
  WsParams,
} from '../schemas/common.js';

const tags = ['parity'];
const ids = Type.Array(Type.String());

const Finding = view(
  {
    kind: Type.String({ description: FINDING_KINDS.join(', ') }),
    subject: Type.String({ description: 'the customer (Sluice id)' }),
    key: nullable(Type.String({ description: 'the access key; null for stuck_event' })),
    expected: Type.String(),
    actual: Type.String(),
    rule: Type.String({ description: 'the rule that decided, e.g. "past_due for 9 days > pastDueGraceDays 7"' }),
    evidence: Type.Optional(view({ subscriptionIds: Type.Optional(ids), accessIds: Type.Optional(ids), eventIds: Type.Optional(ids) })),
  },
  'one finding of a check: expected vs actual and the rule that decided',
);

const CheckRun = view(
  {
    id: Type.String(),
    kind: Type.String({ description: 'check or scan' }),
    trigger: Type.String({ description: CHECK_TRIGGERS.join(', ') }),
    status: Type.String({ description: RUN_STATUSES.join(', ') }),
    scope: jsonObject('what was asked: {customerId} or {customers}; for a scan {provider, since, dryRun}'),
    counts: jsonObject('checked, findings (by kind), opened, resolved, repaired; a scan adds its own'),
    findings: Type.Array(Finding, { description: 'the first 200 findings (the incidents hold them all)' }),
    findingsTruncated: Type.Boolean(),
    progress: jsonObject('where a scan is'),
    recoveredEvents: Type.Array(Type.Unknown(), { description: 'events a scan found that never arrived' }),
    error: nullable(Type.String()),
    createdAt: isoTime(),
    startedAt: nullable(isoTime()),
    finishedAt: nullable(isoTime()),
    durationMs: nullable(Type.Integer()),
  },
  'a check or scan run',
);

const KeyReport = view({
  key: Type.String(),
  sources: Type.Array(Type.String(), { description: 'where access to this key comes from' }),
  checked: Type.Boolean({ description: 'false: the key has no source, missing/unpaid access is not checked' }),
  expected: Type.Boolean({ description: 'a granting, unrefunded subscription pays for it' }),
  actual: Type.Boolean({ description: 'an active, unexpired access row of one of its sources gives it' }),
  subscriptions: Type.Array(view({ id: Type.String(), status: nullable(Type.String()), grants: Type.Boolean(), rule: Type.String() })),
  access: Type.Array(
    view({
      id: Type.String(),
      source: Type.String(),
      resource: Type.String(),
      expiresAt: nullable(Type.String()),
      counted: Type.Boolean(),
    }),
  ),
  rule: Type.String({ description: 'the rule that decided this key' }),
  findings: Type.Array(Type.String()),
});

const CustomerParity = view({
  customerId: Type.String(),
  provider: Type.String(),
  providerId: Type.String(),
  checkedAt: isoTime(),
  repair: oneOf(['report', 'auto'] as const),
  keys: Type.Array(KeyReport),
  findings: Type.Array(Finding),
  nextCheckAt: nullable(isoTime()),
  incidents: Type.Array(Type.Unknown(), { description: 'live incidents of parity findings about this customer' }),
});

export async function parityCheckRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/workspaces/:ws/checks',
    {
      schema: {
        summary: 'Check one customer, or every customer with access or a live subscription, now',
        description:
          'Without `wait`, the run is queued (202 `{runId}`; see GET …/check-runs/:id). With a customerId and ' +
          '`?wait=true`, the answer carries the findings (200).',
        tags,
        params: WsParams,
        querystring: query({ wait: Type.Optional(oneOf(['true', 'false'] as const, 'true: answer with the findings (needs customerId)')) }),
        body: nullable(body({ customerId: Type.Optional(text(200, { minLength: 1, description: 'Sluice id (cus_…) or provider id' })) })),
        response: {
          200: view({ runId: Type.String(), findings: Type.Array(Finding) }),
          202: view({ runId: Type.String() }),
          ...apiErrors(),
        },
      },
    },
    async (r, reply) => {
      const answer = await requestCheck(ctx, { workspaceId: r.params.ws, customerId: r.body?.customerId, wait: r.query.wait === 'true' });
      if (answer.queued) return reply.status(202).send({ runId: answer.runId });
      return reply.status(200).send({ runId: answer.runId, findings: answer.findings });
    },
  );
  app.get(
    '/workspaces/:ws/check-runs',
    {
      schema: {
        summary: 'Check and scan runs, newest first',
        tags,
        params: WsParams,
        querystring: query({ ...paging, trigger: Type.Optional(oneOf(CHECK_TRIGGERS)), status: Type.Optional(oneOf(RUN_STATUSES)) }),
        response: { 200: pageOf(CheckRun), ...apiErrors() },
      },
    },
    async (r) => listCheckRuns(ctx, r.params.ws, r.query),
  );
  app.get(
    '/workspaces/:ws/check-runs/:id',
    {
      schema: {
        summary: 'One check or scan run: trigger, scope, counts, findings, duration, error',
        tags,
        params: wsAnd({ id: idOf(CHECK_RUN_PREFIX, 'the run id (chk_…)') }),
        response: { 200: CheckRun, ...apiErrors() },
      },
    },
    async (r) => getCheckRun(ctx, r.params.ws, r.params.id),
  );
  app.get(
    '/workspaces/:ws/parity/customers/:id',
    {
      schema: {
        summary: 'One customer’s parity now: expected vs actual per access key, with the deciding rule and the findings',
        tags,
        params: wsAnd({ id: text(200, { minLength: 1, description: 'Sluice id (cus_…) or provider id' }) }),
        response: { 200: CustomerParity, ...apiErrors() },
      },
    },
    async (r) => customerParity(ctx, r.params.ws, r.params.id),
  );
}
