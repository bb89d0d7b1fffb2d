// GET|POST /api/v1/cron/scan: the daily reconciliation scan of every workspace, for hosted schedulers (Vercel,
// Render, GitHub Actions, Cloud Scheduler…) that call a URL on a timetable. GET too, because several of them
// only send GETs. Not a workspace route and outside the admin-token auth: its one credential is
// SLUICE_CRON_SECRET, and while that is unset the route answers 404 (it is off).
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { Type } from 'typebox';
import { AppError, NotFoundError } from '../../errors.js';
import { AttemptLimiter } from '../../lib/attempt-limiter.js';
import { limitedAddress } from '../../lib/client-address.js';
import type { Ctx } from '../../services/context.js';
import { assertCronSecret, startCronScan, type StartScanFn } from '../../services/parity/cron-scan.js';
import type { RouteDocs } from '../plugins/openapi.js';
import { nullable, view } from '../schemas/common.js';

const tags = ['schedules'];

const error = (description: string) =>
  Type.Object(
    { error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true }) },
    { additionalProperties: false, description },
  );

const answer = (alreadyRunning: boolean, description: string) =>
  view(
    {
      runId: nullable(Type.String({ description: "the first workspace's scan run (a check run of kind scan); null with no workspace" })),
      runIds: Type.Array(Type.String(), { description: 'the scan run of every workspace, in workspace id order' }),
      alreadyRunning: Type.Literal(alreadyRunning),
    },
    description,
  );

const schema = (method: 'GET' | 'POST'): FastifySchema & RouteDocs => ({
  summary: `Start today's scan of every workspace (${method}, for hosted schedulers)`,
  description:
    'Authorization: Bearer <SLUICE_CRON_SECRET>. The first call of a UTC day starts a reconciliation scan of every workspace ' +
    '(check runs of kind scan, trigger cron) and answers 202; every later call that day, on any instance, answers 200 with the ' +
    'same run ids and alreadyRunning: true. 404 while SLUICE_CRON_SECRET is not set; 429 after 10 failed attempts from one ' +
    'address in a minute.',
  tags,
  security: 'cronSecret',
  ...(method === 'POST'
    ? {
        bodyDoc: {
          required: false,
          description: 'ignored: any body (up to 64 KiB) of any content type',
          content: { '*/*': { schema: {} } },
        },
      }
    : {}),
  response: {
    200: answer(true, "today's scans were already started by an earlier call"),
    202: answer(false, "today's scans were started by this call"),
    401: error('no Authorization header, or not the cron secret'),
    404: error('the cron route is off: SLUICE_CRON_SECRET is not set'),
    429: error('too many failed attempts from this address; see Retry-After'),
  },
});

export async function cronRoutes(app: FastifyInstance, opts: { ctx: Ctx; startScan?: StartScanFn }): Promise<void> {
  const { ctx } = opts;
  // Failed attempts per client address: enough to make guessing the secret pointless at one instance.
  const failures = new AttemptLimiter(10, 60_000, ctx.now);

  // Hosted schedulers send whatever body they like (or none): accepted and ignored, never parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) => done(null, undefined));

  // Checked before the body is read.
  app.addHook('onRequest', async (request, reply) => {
    if (!ctx.config.cronSecret)
      throw new NotFoundError('CRON_NOT_CONFIGURED', 'the cron route is off on this server (SLUICE_CRON_SECRET is not set)');
    const wait = failures.retryAfterMs(limitedAddress(request.ip));
    if (wait > 0) {
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      throw new AppError('TOO_MANY_ATTEMPTS', 'too many failed attempts from this address; try again later', 429);
    }
    try {
      assertCronSecret(ctx, request.headers.authorization);
    } catch (err) {
      failures.fail(limitedAddress(request.ip));
      throw err;
    }
  });

  const handler = async (_request: FastifyRequest, reply: FastifyReply) => {
    const out = await startCronScan(ctx, { startScan: opts.startScan });
    return reply.status(out.started ? 202 : 200).send({ runId: out.runIds[0] ?? null, runIds: out.runIds, alreadyRunning: !out.started });
  };
  // No HEAD twin: a HEAD must not start anything.
  app.get('/cron/scan', { schema: schema('GET'), exposeHeadRoute: false }, handler);
  app.post('/cron/scan', { schema: schema('POST') }, handler);
}
