import type { FastifyInstance, FastifyRequest, LogLevel } from 'fastify';
import { Type } from 'typebox';
import { ValidationError } from '../../errors.js';
import type { Ctx } from '../../services/context.js';
import { ingestPianoEvent } from '../../services/ingest/ingest-piano-event.js';
import { text, WorkspaceId, webhookErrors } from '../schemas/common.js';
import { Received } from '../schemas/views.js';

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
    (_req, body, done) => {
      const form = new URLSearchParams(body as string);
      // Two `data` fields cannot both be the webhook: refused as the query string's duplicate is, not guessed at.
      if (form.getAll('data').length > 1) {
        return done(
          new ValidationError('data must appear once in the form body', {
            field: 'data',
            problems: [{ path: '/body/data', message: 'must appear once' }],
          }),
          undefined,
        );
      }
      done(null, Object.fromEntries(form));
    },
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
  const schema = {
    description:
      "Piano's encrypted `data` (query string, form field or JSON field) is decrypted and HMAC-checked with the workspace's private key, " +
      'stored durably, acknowledged, and forwarded unchanged to the Piano proxy destinations.',
    tags: ['webhooks'],
    params: Type.Object({ workspaceId: WorkspaceId }, { additionalProperties: false }),
    // Piano may add parameters of its own; only `data` is read.
    querystring: Type.Object(
      // The request line and headers together are capped at 16 KiB (server-limits.ts): that, not this, bounds a GET.
      {
        data: Type.Optional(
          text(16 * 1024, { description: 'the encrypted webhook; in a GET the whole URL must stay within 16 KiB (414 beyond)' }),
        ),
      },
      { additionalProperties: true },
    ),
    response: { 200: Received, ...webhookErrors },
  };
  // The POST body is not validated by schema: a body without `data` answers SIGNATURE_INVALID missing_data.
  const dataField = Type.Object({ data: Type.String({ description: 'the encrypted webhook' }) }, { additionalProperties: true });
  const postSchema = {
    ...schema,
    summary: 'Receive a Piano webhook (form or JSON body)',
    bodyDoc: {
      required: false,
      content: { 'application/x-www-form-urlencoded': { schema: dataField }, 'application/json': { schema: dataField } },
    },
  };
  const options = {
    bodyLimit: ctx.config.maxBodyBytes,
    logLevel: ctx.config.logLevel === 'info' ? 'warn' : (ctx.config.logLevel as LogLevel),
  };
  app.get(
    '/webhooks/piano/:workspaceId',
    // No HEAD twin: a HEAD request would store the event (and as a POST), where a HEAD must change nothing.
    { ...options, exposeHeadRoute: false, schema: { ...schema, summary: 'Receive a Piano webhook (data in the query string)' } },
    handler,
  );
  app.post('/webhooks/piano/:workspaceId', { ...options, schema: postSchema }, handler);
}
