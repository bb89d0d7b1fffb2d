// buildApp(deps) builds the HTTP app without listening; only main.ts listens. Tests build their own.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AdminTokenHashes } from '../services/workspaces/authenticate.js';
import type { Ctx } from '../services/context.js';
import type { StartScanFn } from '../services/parity/cron-scan.js';
import { requireToken } from './plugins/auth.js';
import { honourIdempotencyKeys } from './plugins/idempotency.js';
import { incidentRoutes } from './routes/incidents.js';
import { outboundRoutes } from './routes/outbound.js';
import { pianoWebhookRoutes } from './routes/webhooks-piano.js';
import { answerFrameworkError, registerErrorHandling } from './plugins/errors.js';
import { registerInputGuard } from './plugins/input-guard.js';
import { acceptJsonOnly } from './plugins/json-body.js';
import { registerOpenApi } from './plugins/openapi.js';
import { answerClientError, limitedServerFactory } from './server-limits.js';
import { stripeWebhookFastPath } from './webhook-fast-path.js';
import { observeRequestDuration } from './plugins/request-metrics.js';
import { refuseUnknownQueryParameters } from './plugins/strict-query.js';
import { connectionRoutes } from './routes/connections.js';
import { cronRoutes } from './routes/cron.js';
import { crmRoutes } from './routes/crm.js';
import { eventRoutes } from './routes/events.js';
import { opsRoutes } from './routes/ops.js';
import { parityCheckRoutes } from './routes/parity-checks.js';
import { retentionRoutes } from './routes/retention.js';
import { stripeWebhookRoutes } from './routes/webhooks-stripe.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { userRoutes } from './routes/users.js';
import { accessReportRoutes } from './routes/access-reports.js';
import { paritySettingsRoutes } from './routes/parity-settings.js';
import { scanRoutes } from './routes/scans.js';
import { workflowRoutes } from './routes/workflows.js';
import { emailSettingsRoutes } from './routes/email-settings.js';
import { consoleRoutes, pageNotFound } from '../console/routes.js';

export interface AppDeps {
  ctx: Ctx;
  admin: AdminTokenHashes;
  /** What the cron route calls to start a workspace's scan; the real startScan unless a test stands it in. */
  startScan?: StartScanFn;
}

export async function buildApp({ ctx, admin, startScan }: AppDeps): Promise<FastifyInstance> {
  // Stripe webhooks skip Fastify's machinery (webhook-fast-path.ts) until the app starts closing; from then on
  // Fastify answers them, with its 503 for requests that arrive during the close.
  let closing = false;
  const fastPath = stripeWebhookFastPath(ctx, () => closing);
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    // Request ids are our own: a client's X-Request-Id is not taken.
    requestIdHeader: false,
    // X-Forwarded-For/-Proto only from the proxies SLUICE_TRUST_PROXY lists (request.ip is then the address the
    // nearest trusted proxy saw, for the sign-in and cron limits and the log; request.protocol its https); with none
    // listed, nobody's (false): any client could write the header.
    trustProxy: ctx.config.trustProxy.length > 0 ? ctx.config.trustProxy.map((c) => `${c.address}/${c.prefix}`) : false,
    // Each route sets its own limit; this is the ceiling for JSON bodies of the API.
    bodyLimit: 1024 * 1024,
    // Path parameters as long as the longest the schemas take once percent-encoded (200 characters of 4-byte UTF-8 are
    // 2,400): Fastify's default of 100 answered 414 for customer ids and access keys the schemas allow.
    routerOptions: { maxParamLength: 2500 },
    return503OnClosing: true,
    serverFactory: limitedServerFactory(ctx.config, fastPath),
    // HTTP that cannot be parsed, and clients past their deadline, get our error body before the socket closes.
    clientErrorHandler: answerClientError,
    // Errors raised before routing (bad URL encoding) get our error body, not Fastify's internal code.
    frameworkErrors: answerFrameworkError,
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  registerErrorHandling(app, { pageNotFound: (request, reply) => pageNotFound(ctx, request, reply) });
  registerInputGuard(app);
  registerOpenApi(app);

  // API answers may carry a secret (a new API key, a revealed or new endpoint secret) or customers' data: no browser
  // or proxy cache keeps any of them. A callback hook, not an async one: it runs for every webhook too, and an async
  // hook costs each of them a promise for nothing.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  // A callback hook too, for the same reason.
  app.addHook('onResponse', (request, reply, done) => {
    ctx.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
    observeRequestDuration(ctx.metrics, request.routeOptions.url, reply.statusCode, reply.elapsedTime);
    done();
  });

  await app.register(opsRoutes, { ctx });
  await app.register(stripeWebhookRoutes, { ctx });
  await app.register(pianoWebhookRoutes, { ctx });
  // Outside the token-checked scope below: its credential is SLUICE_CRON_SECRET, not the admin token.
  await app.register(cronRoutes, { ctx, startScan, prefix: '/api/v1' });
  await app.register(
    async (api) => {
      refuseUnknownQueryParameters(api);
      acceptJsonOnly(api);
      requireToken(api, ctx, admin);
      honourIdempotencyKeys(api, ctx);
      await api.register(workspaceRoutes, { ctx });
      await api.register(connectionRoutes, { ctx });
      await api.register(eventRoutes, { ctx });
      await api.register(crmRoutes, { ctx });
      await api.register(outboundRoutes, { ctx });
      await api.register(retentionRoutes, { ctx });
      await api.register(userRoutes, { ctx });
      await api.register(parityCheckRoutes, { ctx });
      await api.register(incidentRoutes, { ctx });
      await api.register(paritySettingsRoutes, { ctx });
      await api.register(accessReportRoutes, { ctx });
      await api.register(scanRoutes, { ctx });
      await api.register(workflowRoutes, { ctx });
      await api.register(emailSettingsRoutes, { ctx });
    },
    { prefix: '/api/v1' },
  );
  await app.register(consoleRoutes, { ctx });
  return app;
}
