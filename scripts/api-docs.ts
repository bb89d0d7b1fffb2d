// `npm run docs:api`: writes docs/api.md from the OpenAPI document the app itself serves, so the reference can
// only say what the route schemas say. A test fails when the checked-in file differs from a fresh render.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { findHandler } from '../src/crm/handlers.js';
import type { Db } from '../src/db/port.js';
import { buildApp } from '../src/http/app.js';
import { buildOpenApiDocument, TAGS } from '../src/http/plugins/openapi.js';
import { createMetrics } from '../src/lib/metrics.js';
import { createSecretBox } from '../src/lib/secret-box.js';
import type { Ctx } from '../src/services/context.js';

type Schema = Record<string, unknown>;
type Operation = {
  summary?: string;
  description?: string;
  tags: string[];
  parameters: { name: string; in: string; required: boolean; description?: string; schema: Schema }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  security: unknown[];
  'x-sluice-access'?: 'viewer' | 'member' | 'admin' | 'instance-admin';
};

const ACCESS = {
  viewer: 'Auth: bearer token (admin token or workspace API key), or a console session; any role.',
  member:
    'Auth: bearer token (admin token or workspace API key), or a console session; the member or admin role (a viewer is refused with 403).',
  admin:
    'Auth: bearer token (admin token or workspace API key), or a console session; the admin role (a member or viewer is refused with 403).',
  'instance-admin':
    'Auth: the admin token, or the console session of a user who is admin of every workspace (anyone else is refused with 403).',
};

export const API_DOCS_PATH = fileURLToPath(new URL('../docs/api.md', import.meta.url));

/** The app as built, without a database: for reading its routes, never for serving requests. */
export async function buildAppWithoutDb(): Promise<FastifyInstance> {
  const noDb = new Proxy({} as Db, {
    get() {
      throw new Error('the API document is built without a database');
    },
  });
  const ctx: Ctx = {
    db: noDb,
    config: loadConfig({}, { logLevel: 'silent' }),
    secretBox: createSecretBox(Buffer.alloc(32).toString('base64')),
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    now: Date.now,
    publicUrl: () => 'http://127.0.0.1:8080',
    onEventStored: () => {},
    onDeliveriesQueued: () => {},
    findHandler,
  };
  const app = await buildApp({ ctx, admin: { hashes: [] } });
  await app.ready();
  return app;
}

/** The document of the app as built: the same as GET /api/v1/openapi.json answers. */
export async function currentOpenApiDocument(): Promise<Record<string, unknown>> {
  const app = await buildAppWithoutDb();
  const doc = buildOpenApiDocument(app.registeredRoutes, '0.1.0');
  await app.close();
  return doc;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(s: Schema): string {
  if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(', ')}`;
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).map(typeOf).join(' or ');
  const limits: string[] = [];
  if (typeof s.minLength === 'number' && s.minLength > 0) limits.push(`min ${s.minLength}`);
  if (typeof s.maxLength === 'number') limits.push(`max ${s.maxLength}`);
  if (typeof s.minimum === 'number') limits.push(`≥ ${s.minimum}`);
  if (typeof s.maximum === 'number') limits.push(`≤ ${s.maximum}`);
  if (typeof s.maxItems === 'number') limits.push(`≤ ${s.maxItems} items`);
  if (typeof s.format === 'string') limits.push(s.format);
  if (typeof s.pattern === 'string' && s.pattern !== '^[^\\u0000]*$') limits.push(`\`${s.pattern}\``);
  let base = typeof s.type === 'string' ? s.type : 'any';
  if (s.type === 'array' && s.items) base = `array of ${typeOf(s.items as Schema)}`;
  if (s.type === 'object' && s.patternProperties) base = 'object (map)';
  return limits.length > 0 ? `${base} (${limits.join(', ')})` : base;
}

function fields(s: Schema, prefix = ''): string[] {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).flatMap(([name, p]) => [
    `| \`${prefix}${name}\` | ${cell(typeOf(p))} | ${required.has(name) ? 'yes' : 'no'} | ${cell(String(p.description ?? ''))} |`,
  ]);
}

function renderOperation(method: string, path: string, op: Operation): string[] {
  const out = [`### ${method.toUpperCase()} ${path}`, ''];
  if (op.summary) out.push(`${op.summary}.`.replace(/\.\.$/, '.'), '');
  if (op.description) out.push(op.description, '');
  const access = op['x-sluice-access'];
  const cron = op.security.some((s) => typeof s === 'object' && s !== null && 'cronSecret' in s);
  out.push(
    access ? ACCESS[access] : cron ? 'Auth: bearer SLUICE_CRON_SECRET.' : op.security.length > 0 ? 'Auth: bearer token.' : 'Auth: none.',
    '',
  );
  if (op.parameters.length > 0) {
    out.push('| parameter | in | type | required | description |', '|---|---|---|---|---|');
    for (const p of op.parameters) {
      out.push(`| \`${p.name}\` | ${p.in} | ${cell(typeOf(p.schema))} | ${p.required ? 'yes' : 'no'} | ${cell(p.description ?? '')} |`);
    }
    out.push('');
  }
  if (op.requestBody) {
    for (const [type, { schema }] of Object.entries(op.requestBody.content)) {
      out.push(
        `Body (\`${type}\`${op.requestBody.required ? '' : ', optional'})${schema.description ? `: ${String(schema.description)}` : ''}`,
        '',
      );
      const rows = fields(schema);
      if (rows.length > 0) out.push('| field | type | required | description |', '|---|---|---|---|', ...rows, '');
    }
  }
  out.push('| status | answer |', '|---|---|');
  for (const [status, r] of Object.entries(op.responses)) out.push(`| ${status} | ${cell(r.description)} |`);
  out.push('');
  return out;
}

export function renderApiDocs(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, Operation>>;
  const info = doc.info as { description: string };
  const out = [
    '# HTTP API reference',
    '',
    '<!-- Generated by `npm run docs:api` from the OpenAPI document; do not edit by hand. -->',
    '',
    `The same document is served at \`GET /api/v1/openapi.json\` (OpenAPI 3.1, no token needed). ${info.description}`,
    '',
    'Management routes take `Authorization: Bearer <token>`: the admin token (`SLUICE_ADMIN_TOKEN`) or an API key of one workspace. ' +
      'Lists take `?limit=` (1–500, default 50) and `?cursor=` (the `nextCursor` of the previous page) and answer `{"data":[…],"nextCursor":null|"…"}`. ' +
      'A query parameter a route does not list below is refused (400 `VALIDATION_FAILED`, naming it), on routes that take none too. ' +
      'No string anywhere may contain a NUL character, and names and descriptions (of workspaces, API keys, endpoints, workflows) are one line: no control character (tab, CR, LF, ESC, DEL, …) nor line break.',
    '',
    'A malformed request answers 400 with every problem listed:',
    '',
    '```json',
    '{ "error": { "code": "VALIDATION_FAILED", "message": "invalid request: /body/name is required",',
    '             "problems": [ { "path": "/body/name", "message": "is required" } ] } }',
    '```',
    '',
    'Other request errors: `INVALID_JSON` (400), `INVALID_CONTENT_LENGTH` (400), `BAD_URL` (400, a path that is not valid percent-encoded UTF-8), ' +
      '`NOT_FOUND` (404, no such route), `URL_TOO_LONG` (414), `PAYLOAD_TOO_LARGE` (413), `UNSUPPORTED_MEDIA_TYPE` (415).',
    '',
  ];
  for (const tag of TAGS) {
    const ops = Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => op.tags.includes(tag.name))
        .map(([method, op]) => ({ method, path, op })),
    );
    if (ops.length === 0) continue;
    out.push(`## ${tag.name}`, '', tag.description, '');
    for (const { method, path, op } of ops) out.push(...renderOperation(method, path, op));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(API_DOCS_PATH, renderApiDocs(await currentOpenApiDocument()));
  console.log(`wrote ${API_DOCS_PATH}`);
}
