import type { FastifyInstance, LogLevel } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { ingestStripeEvent } from '../../services/ingest/ingest-stripe-event.js';

/** POST /webhooks/stripe/:workspaceId — the body stays raw bytes: the signature covers exactly those. */
export async function stripeWebhookRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.config.maxBodyBytes }, (_req, body, done) => done(null, body));

  app.post<{ Params: { workspaceId: string } }>(
    '/webhooks/stripe/:workspaceId',
    // Provider traffic is high-volume: no per-request lines at info (rejections are counted instead);
    // debug and trace keep them, and a quieter configured level stays quieter.
    { bodyLimit: ctx.config.maxBodyBytes, logLevel: ctx.config.logLevel === 'info' ? 'warn' : (ctx.config.logLevel as LogLevel) },
    async (request, reply) => {
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await ingestStripeEvent(ctx, { workspaceId: request.params.workspaceId, rawBody, headers: request.headers });
      return reply.status(200).send(result.duplicate ? { received: true, duplicate: true } : { received: true });
    },
  );
}
