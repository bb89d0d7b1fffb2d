// The SMTP settings email steps send through: read by any role, replaced and removed by admins. The password is
// write-only.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { getEmailSettings, putEmailSettings, removeEmailSettings } from '../../services/workflows/email-settings.js';
import { adminOnly } from '../plugins/auth.js';
import { apiErrors, isoTime, NoContent, nullable, oneOf, view, WsParams } from '../schemas/common.js';

const tags = ['workflows'];
const Security = oneOf(
  ['tls', 'starttls', 'none'] as const,
  'tls: TLS from the first byte (465); starttls: upgraded and required (587); none',
);

const EmailSettings = view(
  {
    host: Type.String(),
    port: Type.Integer(),
    security: Security,
    user: nullable(Type.String()),
    passwordSet: Type.Boolean({ description: 'whether a password is stored (it is never returned)' }),
    from: Type.String({ description: 'the default sender of email steps' }),
    replyTo: nullable(Type.String()),
    createdAt: isoTime(),
    updatedAt: isoTime(),
  },
  'the SMTP server email steps send through',
);

// Shapes are checked by the settings parser, which lists every problem (422), not by the schema (400 on the first).
const field = (description: string) => Type.Optional(Type.Unknown({ description }));
const EmailSettingsBody = Type.Object(
  {
    host: field('the SMTP server: a host name or IP address (required)'),
    port: field('1–65535; default 465 for tls, 587 for starttls, 25 for none'),
    security: field('"tls", "starttls" or "none"; default "tls" on port 465, else "starttls"'),
    user: field('the login, when the server asks for one'),
    password: field('write-only: left out keeps the stored one, null removes it'),
    from: field('the default sender: box@example.com or Name <box@example.com> (required)'),
    replyTo: field('an address replies go to (optional)'),
    passwordSet: field('ignored (read-only field of the GET answer)'),
    createdAt: field('ignored (read-only field of the GET answer)'),
    updatedAt: field('ignored (read-only field of the GET answer)'),
  },
  { additionalProperties: true, description: 'the whole settings; fields left out take their defaults, except the password' },
);

export async function emailSettingsRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.get(
    '/workspaces/:ws/settings/email',
    {
      schema: {
        summary: 'The SMTP settings of email steps (never the password); 404 EMAIL_SETTINGS_NOT_FOUND when there are none',
        tags,
        params: WsParams,
        response: { 200: EmailSettings, ...apiErrors() },
      },
    },
    async (r) => getEmailSettings(ctx, r.params.ws),
  );
  app.put(
    '/workspaces/:ws/settings/email',
    {
      config: adminOnly,
      schema: {
        summary: 'Replace the SMTP settings (admin); the password is sealed and kept when left out; 422 lists every problem',
        tags,
        params: WsParams,
        body: EmailSettingsBody,
        response: { 200: EmailSettings, ...apiErrors(422) },
      },
    },
    async (r) => putEmailSettings(ctx, r.params.ws, r.body, r.principal),
  );
  app.delete(
    '/workspaces/:ws/settings/email',
    {
      config: adminOnly,
      schema: {
        summary: 'Remove the SMTP settings (admin): email steps fail until new ones are saved',
        tags,
        params: WsParams,
        response: { 204: NoContent, ...apiErrors() },
      },
    },
    async (r, reply) => {
      await removeEmailSettings(ctx, r.params.ws, r.principal);
      return reply.code(204).send(null);
    },
  );
}
