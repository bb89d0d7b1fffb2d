// The management API reads JSON and nothing else: a text/plain body is 415 like any other non-JSON type (not
// parsed as a string and then refused as "must be object"), and a body that is not valid UTF-8 is refused
// rather than decoded with replacement characters, which would store a name such as "a\uFFFD\uFFFDb".
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';

function isPlainJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function acceptJsonOnly(api: FastifyInstance): void {
  const parseJson = api.getDefaultJsonParser('error', 'error');
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) return done(new AppError('INVALID_ENCODING', 'the request body is not valid UTF-8', 400), undefined);
    const text = bytes.toString('utf8');
    parseJson(request, text, (err, value) => {
      // The parser refuses a "__proto__" or "constructor.prototype" key (prototype pollution) with the same
      // error as broken JSON; valid JSON deserves to be told what is wrong with it.
      if ((err as { code?: string } | null)?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' && isPlainJson(text)) {
        return done(
          new AppError('INVALID_JSON', 'the JSON body has a "__proto__" or "constructor.prototype" key, which is refused', 400),
          undefined,
        );
      }
      done(err, value);
    });
  });
}
