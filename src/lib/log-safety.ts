// What may appear in a log line. Sluice's requests carry credentials in places a generic logger prints: Piano
// sends its encrypted payload in the query string, API calls carry bearer tokens, bodies carry customers'
// personal data and secrets, and database errors quote the values they refused. So a request is logged as its
// method, its path without the query string and its route; an error as its type, code, message and stack; and
// known secret-bearing fields are censored wherever they appear.
import type { LoggerOptions } from 'pino';

interface LoggedRequest {
  method?: string;
  url?: string;
  routeOptions?: { url?: string };
  ip?: string;
  id?: string;
}

function requestLine(req: LoggedRequest): Record<string, unknown> {
  const url = typeof req.url === 'string' ? req.url : '';
  const q = url.indexOf('?');
  return {
    id: req.id,
    method: req.method,
    path: q === -1 ? url : url.slice(0, q),
    route: req.routeOptions?.url,
    remoteAddress: req.ip,
  };
}

interface LoggedError {
  name?: string;
  message?: string;
  code?: unknown;
  stack?: string;
  cause?: unknown;
}

/** Type, code, message and stack only: driver errors carry `detail`, `where` and parameters that quote data. */
function errorLine(err: unknown, depth = 0): unknown {
  if (!err || typeof err !== 'object') return err;
  const e = err as LoggedError;
  return {
    type: e.name ?? err.constructor?.name,
    code: typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined,
    message: e.message,
    stack: e.stack,
    cause: depth < 3 && e.cause ? errorLine(e.cause, depth + 1) : undefined,
  };
}

/** Field names whose values are secrets wherever they appear in a logged object. */
const SECRET_FIELDS = [
  'secret',
  'apiKey',
  'apiToken',
  'webhookSecrets',
  'privateKey',
  'token',
  'password',
  'authorization',
  'sealed',
  'rawBody',
  'payload',
  'body',
  'data',
];

export function safeLoggerOptions(level: string): LoggerOptions {
  return {
    level,
    serializers: { req: requestLine, err: errorLine, error: errorLine },
    redact: {
      paths: ['req.headers', 'res.headers', 'headers', ...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)],
      censor: '[redacted]',
    },
  };
}
