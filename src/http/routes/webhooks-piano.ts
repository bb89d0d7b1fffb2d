import type { FastifyInstance, FastifyRequest, LogLevel } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { ingestPianoEvent } from '../../services/ingest/ingest-piano-event.js';

type Req = FastifyRequest<{ Params: { workspaceId: string }; Querystring: Record<string, unknown> }>;

/** `data` from the query string, a form field or a JSON field, whichever is present. */
function dataOf(request: Req): string | undefined {
  const fromQuery = request.query.data;
  if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery;
  const body = request.body as Record<string, unknown> | undefined;
  return body && typeof body === 'object' && typeof body.data === 'string' ? body.data : undefined;
}

/** GET|POST /webhooks/piano/:workspaceId — Piano's encrypted webhooks, and the Piano proxy's one URL. */
export async function pianoWebhookRoutes(app: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const { ctx } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: ctx.config.maxBodyBytes },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: ctx.config.maxBodyBytes }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch {
      done(null, {}); // no `data` then: answered as missing_data, a clearer message than a JSON error
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: ctx.config.maxBodyBytes }, (_req, _body, done) => done(null, {}));

  const handler = async (request: Req) => {
    const result = await ingestPianoEvent(ctx, {
      workspaceId: request.params.workspaceId,
      method: request.method === 'GET' ? 'GET' : 'POST',
      data: dataOf(request),
    });
    return result.duplicate ? { received: true, duplicate: true } : { received: true };
  };
  const options = {
    bodyLimit: ctx.config.maxBodyBytes,
    logLevel: ctx.config.logLevel === 'info' ? 'warn' : (ctx.config.logLevel as LogLevel),
  };
  app.get('/webhooks/piano/:workspaceId', options, handler);
  app.post('/webhooks/piano/:workspaceId', options, handler);
}
