import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, LogLevel } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { ingestStripeEvent } from '../../services/ingest/ingest-stripe-event.js';
import { startInboundSync, stopInboundSync } from '../../services/ingest/inbound-runtime.js';
import { WorkspaceId, webhookErrors } from '../schemas/common.js';
import { Received } from '../schemas/views.js';
import { STRIPE_WEBHOOK_ROUTE } from '../webhook-fast-path.js';

const schema = {
  summary: 'Receive a Stripe webhook',
  description:
    "The raw body is verified against the Stripe-Signature header with any of the workspace's signing secrets (300 s tolerance), " +
    'stored durably, then acknowledged. A validly signed event is always stored and acknowledged, even when it cannot be processed.',
  tags: ['webhooks'],
  params: Type.Object({ workspaceId: WorkspaceId }, { additionalProperties: false }),
  headers: Type.Object(
    { 'stripe-signature': Type.Optional(Type.String({ maxLength: 8192, description: 't=…,v1=…' })) },
    { additionalProperties: true },
  ),
  // The body is not parsed: the signature covers exactly its bytes.
  bodyDoc: {
    required: true,
    content: { 'application/json': { schema: { type: 'object', description: 'the Stripe event, byte for byte as Stripe sent it' } } },
  },
  response: { 200: Received, ...webhookErrors },
};

/** POST /webhooks/stripe/:workspaceId — the body stays raw bytes: the signature covers exactly those. */
export async function stripeWebhookRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  // Hear other instances' changes to workspaces and connections while this app serves webhooks.
  startInboundSync(ctx);
  app.addHook('onClose', () => stopInboundSync(ctx));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.config.maxBodyBytes }, (_req, body, done) => done(null, body));

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    STRIPE_WEBHOOK_ROUTE,
    // Provider traffic is high-volume: no per-request lines at info (rejections are counted instead);
    // debug and trace keep them, and a quieter configured level stays quieter.
    { schema, bodyLimit: ctx.config.maxBodyBytes, logLevel: ctx.config.logLevel === 'info' ? 'warn' : (ctx.config.logLevel as LogLevel) },
    async (request, reply) => {
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await ingestStripeEvent(ctx, { workspaceId: request.params.workspaceId, rawBody, headers: request.headers });
      return reply.status(200).send(result.duplicate ? { received: true, duplicate: true } : { received: true });
    },
  );
}
