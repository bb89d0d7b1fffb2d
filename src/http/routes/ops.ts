import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { renderMetrics } from '../../services/ops/render-metrics.js';
import { view } from '../schemas/common.js';

const tags = ['ops'];
const Unavailable = view(
  { ok: Type.Literal(false), error: view({ code: Type.String(), message: Type.String() }) },
  'the database is not reachable',
);

/** Liveness, readiness and Prometheus metrics; no token, so orchestrators and scrapers can reach them. */
export async function opsRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness: the process answers', tags, response: { 200: view({ ok: Type.Literal(true) }, 'alive') } } },
    async () => ({ ok: true }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database is reachable',
        tags,
        response: { 200: view({ ok: Type.Literal(true), database: Type.String() }, 'ready'), 503: Unavailable },
      },
    },
    async (_request, reply) => {
      try {
        await ctx.db.ping();
        return { ok: true, database: ctx.db.kind };
      } catch {
        return reply.status(503).send({ ok: false, error: { code: 'STORE_UNAVAILABLE', message: 'the database is not reachable' } });
      }
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags,
        response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await renderMetrics(ctx);
      return reply.type(contentType).send(body);
    },
  );
}
