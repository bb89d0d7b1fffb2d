import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { runRetention } from '../../services/retention/run-retention.js';
import { apiErrors, body, nullable, view, WorkspaceId } from '../schemas/common.js';

const RetentionReport = view(
  {
    ran: Type.Boolean({ description: 'false when another run held the lease (nothing was done)' }),
    workspaces: Type.Optional(
      Type.Array(
        view({
          workspaceId: Type.String(),
          retentionDays: Type.Integer(),
          cutoff: Type.String({ format: 'date-time' }),
          eventsDeleted: Type.Integer(),
          rawBodiesPruned: Type.Integer(),
          attemptsDeleted: Type.Integer(),
          workflowRunRetentionDays: Type.Optional(Type.Integer()),
          workflowRunsDeleted: Type.Optional(
            Type.Integer({ description: 'finished workflow runs deleted, with their steps and attempts' }),
          ),
          checkRunsDeleted: Type.Optional(Type.Integer({ description: 'finished parity check runs deleted (scan runs are kept)' })),
        }),
      ),
    ),
  },
  'what one retention run pruned, per workspace',
);

/** Runs retention now (it also runs on its own in worker processes every SLUICE_RETENTION_INTERVAL_SECONDS). */
export async function retentionRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.post(
    '/retention/run',
    {
      config: { instanceAdmin: 'running retention' },
      schema: {
        summary: 'Prune history past each workspace’s retention now, or one workspace’s (admin token); answers when done',
        tags: ['ops'],
        body: nullable(body({ workspaceId: Type.Optional(WorkspaceId) })),
        response: { 200: RetentionReport, ...apiErrors() },
      },
    },
    async (request) => {
      return runRetention(ctx, { workspaceId: request.body?.workspaceId });
    },
  );
}
