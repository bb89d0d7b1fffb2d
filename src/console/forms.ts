// Form posts: application/x-www-form-urlencoded bodies parsed into plain objects (a repeated name becomes a
// list), and service errors turned into messages next to the fields they name.
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

export type FormBody = Record<string, string | string[]>;

const MAX_FORM_BYTES = 256 * 1024;

export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer', bodyLimit: MAX_FORM_BYTES },
    (_request, body, done) => {
      const bytes = body as Buffer;
      if (!isUtf8(bytes)) return done(new AppError('INVALID_ENCODING', 'the form is not valid UTF-8', 400), undefined);
      const out: FormBody = Object.create(null) as FormBody;
      for (const [k, v] of new URLSearchParams(bytes.toString('utf8'))) {
        const prev = out[k];
        out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      done(null, out);
    },
  );
}

/** One value of a form field (the first, when it was sent twice). */
export function field(body: unknown, name: string): string | undefined {
  const v = (body as FormBody | undefined)?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Every value of a repeated field (checkboxes). */
export function fields(body: unknown, name: string): string[] {
  const v = (body as FormBody | undefined)?.[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The problems of a failed service call, by field; a problem without a field goes under `_`. */
export function problemsOf(err: unknown): Record<string, string> | undefined {
  if (!(err instanceof AppError) || err.status >= 500) return undefined;
  const details = err.details as { problems?: { field: string; message: string }[]; field?: string };
  if (details.problems) return Object.fromEntries(details.problems.map((p) => [p.field, p.message]));
  if (typeof details.field === 'string') return { [details.field]: err.message };
  return { _: err.message };
}
