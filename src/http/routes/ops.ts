import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { renderMetrics } from '../../services/ops/render-metrics.js';

/** Liveness, readiness and Prometheus metrics; no token, so orchestrators and scrapers can reach them. */
export async function opsRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await ctx.db.ping();
      return { ok: true, database: ctx.db.kind };
    } catch {
      return reply.status(503).send({ ok: false, error: { code: 'STORE_UNAVAILABLE', message: 'the database is not reachable' } });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await renderMetrics(ctx);
    return reply.type(contentType).send(body);
  });
}
