// Building blocks of the route schemas. One schema per route is the single source of HTTP validation, of the
// handlers' TypeScript types and of the OpenAPI document, so the pieces here carry the rules every route shares:
// no NUL anywhere (PostgreSQL text cannot hold it, and it is never meaningful in this API), bounded lengths,
// ids by prefix, list paging. Domain checks (is this a whsec_ secret, is this URL allowed) stay in the services,
// which the CLI calls directly.
import { Type, type TSchema } from 'typebox';

/** Patterns whose readable meaning the validation-error formatter shows instead of the regex itself. */
export const PATTERN_MESSAGES = new Map<string, string>();

function described(pattern: string, message: string): string {
  PATTERN_MESSAGES.set(pattern, message);
  return pattern;
}

const NO_NUL = described('^[^\\u0000]*$', 'must not contain NUL (\\u0000) characters');

/** Free text: at most `max` characters, never a NUL. */
export function text(max: number, options: { minLength?: number; description?: string } = {}) {
  return Type.String({ maxLength: max, pattern: NO_NUL, ...options });
}

/** A name or description shown on one line; the services refuse control characters and line breaks in it (400). */
export function oneLine(max: number, options: { minLength?: number } = {}) {
  return text(max, { description: 'one line: no control characters (tab, CR, LF, …) or line breaks', ...options });
}

/** A Sluice id: its readable prefix, then lower-case base32 (an unknown but well-formed id is a 404, not a 400). */
export function idOf(prefix: string, description?: string) {
  const pattern = described(`^${prefix}_[0-9a-z]{1,64}$`, `must be an id starting with ${prefix}_`);
  return Type.String({ pattern, maxLength: prefix.length + 65, ...(description ? { description } : {}) });
}

/** A time as ISO 8601 (date, or date and time with an optional zone) or unix seconds. */
export const time = (description: string) =>
  Type.String({
    description,
    maxLength: 40,
    pattern: described(
      '^(\\d{1,11}|\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}(:?\\d{2})?)?)?)$',
      'must be an ISO 8601 time (2026-01-31 or 2026-01-31T12:00:00Z) or unix seconds',
    ),
  });

/** A fixed set of strings; one error that names the choices, not one per choice. */
export function oneOf<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Enum(values, description ? { description } : {});
}

export const WorkspaceId = idOf('ws', 'the workspace id (ws_…)');
export const WsParams = Type.Object({ ws: WorkspaceId }, { additionalProperties: false });
export function wsAnd<P extends Record<string, TSchema>>(props: P) {
  return Type.Object({ ws: WorkspaceId, ...props }, { additionalProperties: false });
}

/** ?limit= and ?cursor= of every list. */
export const paging = {
  // Digits only, checked as text: coercing a query string to an integer would take `1.5`, `0x2` or `1e1`.
  limit: Type.Optional(
    Type.String({
      maxLength: 3,
      pattern: described('^([1-9][0-9]?|[1-4][0-9]{2}|500)$', 'must be a whole number from 1 to 500'),
      description: 'page size, 1–500 (default 50)',
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      maxLength: 100,
      pattern: described('^[a-z]+_[0-9a-z]{24}$', 'must be a nextCursor value this API returned'),
      description: 'the `nextCursor` of the previous page',
    }),
  ),
};

export function query<P extends Record<string, TSchema>>(props: P) {
  return Type.Object(props, { additionalProperties: false });
}

export function body<P extends Record<string, TSchema>>(props: P, description?: string) {
  return Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
}

/** A response object: the fields listed are documented; others may be added without a breaking change. */
export function view<P extends Record<string, TSchema>>(props: P, description?: string) {
  return Type.Object(props, { additionalProperties: true, ...(description ? { description } : {}) });
}

// The inner schema's description is lifted onto the union, where the API docs read a field's description.
export const nullable = <T extends TSchema>(schema: T) => {
  const { description } = schema as { description?: string };
  return Type.Union([schema, Type.Null()], description === undefined ? {} : { description });
};
export const isoTime = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object(
    { data: Type.Array(item), nextCursor: nullable(Type.String({ description: 'pass as ?cursor= for the next page; null on the last' })) },
    { additionalProperties: false },
  );
}

/** Any JSON value, passed through as stored (provider payloads, custom event data). */
export const anyJson = (description?: string) => Type.Unknown(description ? { description } : {});
export const jsonObject = (description?: string) => Type.Record(Type.String(), Type.Unknown(), description ? { description } : {});

const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'stable machine-readable code, e.g. WORKSPACE_NOT_FOUND' }),
        message: Type.String({ description: 'what went wrong, for a person' }),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false, description: 'an error' },
);

const ValidationErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Literal('VALIDATION_FAILED'),
        message: Type.String(),
        field: Type.Optional(Type.String({ description: 'the (first) field at fault' })),
        problems: Type.Optional(
          Type.Array(
            Type.Object(
              {
                path: Type.String({ description: 'JSON pointer into the request: /body/name, /querystring/limit, /params/ws' }),
                message: Type.String(),
              },
              { additionalProperties: false },
            ),
          ),
        ),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false, description: 'the request was malformed; every problem found is listed' },
);

const ERROR_DESCRIPTIONS: Record<number, string> = {
  401: 'no valid bearer token',
  403: "the token's role may not do this (a viewer or member key, or a route for the admin token only); a key of another workspace gets 404",
  404: 'no such workspace or resource',
  409: 'the resource is not in a state that allows this',
  413: 'the body is over the size limit',
  415: 'the body is not of a content type this route accepts',
  422: 'the request is well-formed but cannot be carried out',
  502: "a provider's API could not be reached",
  503: 'the database is unavailable; retry later',
};

/** An error answer described for one route, where the usual description of its status says too little. */
export const errorAnswer = (description: string): TSchema =>
  Type.Object(ErrorBody.properties, { additionalProperties: false, description });

/** The error answers a route can give, besides 400 VALIDATION_FAILED which every route with input has. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = { 400: ValidationErrorBody };
  for (const status of statuses) out[status] = errorAnswer(ERROR_DESCRIPTIONS[status] ?? 'an error');
  return out;
}

/** The errors every authenticated /api/v1 route may answer. */
export const apiErrors = (...more: number[]) => errors(401, 403, 404, ...more);

export const Ok = Type.Object({ ok: Type.Boolean() }, { additionalProperties: true });
export const NoContent = Type.Null({ description: 'no body' });

/** What the inbound webhook routes answer besides 200. */
export const webhookErrors: Record<number, TSchema> = {
  400: Type.Object(ErrorBody.properties, {
    additionalProperties: false,
    description: 'SIGNATURE_INVALID (with `reason`), or VALIDATION_FAILED for a malformed workspace id',
  }),
  404: Type.Object(ErrorBody.properties, {
    additionalProperties: false,
    description: 'unknown workspace, or the provider is not connected',
  }),
  413: Type.Object(ErrorBody.properties, { additionalProperties: false, description: 'the body is over the limit (1 MiB by default)' }),
  503: Type.Object(ErrorBody.properties, {
    additionalProperties: false,
    description: 'the event could not be stored; the provider will retry',
  }),
};
