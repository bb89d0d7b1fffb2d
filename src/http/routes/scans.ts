import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { NotFoundError } from '../../errors.js';
import type { Ctx } from '../../services/context.js';
import { getScan, requestScan } from '../../services/parity/start-scan.js';
import { apiErrors, body, idOf, jsonObject, nullable, view, wsAnd, WsParams } from '../schemas/common.js';

const tags = ['workspaces'];

const ScanStarted = view({
  runId: Type.String({ description: 'the scan run (run_…); it is also listed among the check runs, trigger scan' }),
  alreadyRunning: Type.Boolean({ description: 'true when the workspace already had a scan running: this is that one' }),
});

const Scan = view(
  {
    id: Type.String(),
    workspaceId: Type.String(),
    status: Type.String({ description: 'queued | running | succeeded | failed' }),
    scope: jsonObject('what was asked: provider(s), since, dryRun, startedBy'),
    provider: nullable(Type.String({ description: 'the provider being scanned' })),
    phase: nullable(Type.String({ description: 'where the scan is (events, subscriptions, tombstones, checks, …)' })),
    counts: jsonObject('API requests, 429s, pages, events recovered, objects repaired, tombstones, …'),
    recoveredEventIds: jsonObject('per provider, the ids of the events recovered (the first 200)'),
    examples: Type.Array(jsonObject(), { description: 'a dry run: what would change (the first 20)' }),
    failures: Type.Array(jsonObject(), { description: 'providers that could not be scanned, and why' }),
    error: nullable(Type.String()),
    createdAt: Type.String(),
    startedAt: nullable(Type.String()),
    finishedAt: nullable(Type.String()),
  },
  'a reconciliation scan run',
);

export async function scanRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/workspaces/:ws/scans',
    {
      config: { role: 'member' },
      schema: {
        summary: "Start a reconciliation scan of the workspace's providers (runs in the background)",
        tags,
        params: WsParams,
        body: nullable(
          body({
            provider: Type.Optional(
              nullable(Type.String({ maxLength: 40, description: 'stripe or piano; default: every connected provider' })),
            ),
            since: Type.Optional(
              nullable(
                Type.String({ maxLength: 60, description: 'an ISO date or a duration back from now (7d, 12h, 90m); at most 30 days' }),
              ),
            ),
            dryRun: Type.Optional(nullable(Type.Boolean({ description: 'report what would change; change nothing, publish nothing' }))),
          }),
        ),
        response: { 202: ScanStarted, ...apiErrors(422) },
      },
    },
    async (r, reply) => reply.status(202).send(await requestScan(ctx, r.params.ws, r.body ?? {}, 'manual')),
  );
  app.get(
    '/workspaces/:ws/scans/:runId',
    {
      schema: {
        summary: 'One scan run: where it is, what it counted, what it recovered',
        tags,
        params: wsAnd({ runId: idOf('run', 'the scan run (run_…)') }),
        response: { 200: Scan, ...apiErrors() },
      },
    },
    async (r) => {
      const scan = await getScan(ctx, r.params.ws, r.params.runId);
      if (!scan) throw new NotFoundError('SCAN_NOT_FOUND', `no scan ${JSON.stringify(r.params.runId)} in this workspace`);
      return scan;
    },
  );
}
