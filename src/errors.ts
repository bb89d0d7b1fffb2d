// Every failure a caller can act on is an AppError with a stable code. The HTTP error handler maps them to
// `{"error":{"code","message"}}`; 5xx answers never carry internals.

export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** True when trying again later may succeed (database down, provider timeout). */
    readonly retryable = false,
    /** Extra machine-readable fields merged into the error object of the answer. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('VALIDATION_FAILED', message, 400, false, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'a valid bearer token is required') {
    super('UNAUTHORIZED', message, 401);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message, 403);
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, 404);
  }
}

export class WorkspaceNotFoundError extends NotFoundError {
  constructor(id: string) {
    super('WORKSPACE_NOT_FOUND', `no workspace ${JSON.stringify(id)}`);
  }
}

export class ProviderNotConnectedError extends NotFoundError {
  constructor(provider: string) {
    super('PROVIDER_NOT_CONNECTED', `${provider} is not connected for this workspace`);
  }
}

export type SignatureFailureReason =
  | 'missing_header'
  | 'malformed_header'
  | 'no_signatures'
  | 'signature_mismatch'
  | 'timestamp_outside_tolerance'
  | 'invalid_payload'
  // Piano
  | 'missing_data'
  | 'malformed_data'
  | 'hmac_missing'
  | 'hmac_mismatch'
  | 'undecryptable'
  | 'not_json'
  | 'aid_mismatch';

const SIGNATURE_MESSAGES: Record<SignatureFailureReason, string> = {
  missing_header: 'the Stripe-Signature header is missing',
  malformed_header:
    'the Stripe-Signature header could not be parsed: it needs t=<unix seconds> and v1=<64 hex characters>, as in t=1700000000,v1=5257a869…',
  no_signatures: 'the Stripe-Signature header carries no v1 signature (v0 and other schemes are not accepted)',
  signature_mismatch: 'no v1 signature matches any signing secret of this workspace for the raw body',
  timestamp_outside_tolerance: 'the signature timestamp is outside the tolerance window (replay protection)',
  invalid_payload: 'the body is not a JSON Stripe event ({id, object:"event", type, created, data.object})',
  missing_data: 'no Piano `data` parameter in the query string, form or JSON body',
  malformed_data: 'the Piano `data` parameter is not base64url text with an optional ~~~HMAC part',
  hmac_missing: 'the Piano `data` parameter carries no ~~~HMAC part',
  hmac_mismatch: "the HMAC of the Piano `data` does not match this workspace's private key",
  undecryptable: "the Piano `data` does not decrypt with this workspace's private key",
  not_json: 'the decrypted Piano `data` is not a JSON object',
  aid_mismatch: "the decrypted Piano event belongs to another application (its aid is not this connection's)",
};

export class SignatureInvalidError extends AppError {
  constructor(readonly reason: SignatureFailureReason) {
    super('SIGNATURE_INVALID', SIGNATURE_MESSAGES[reason], 400, false, { reason });
  }
}

/** The database could not be reached or written; the provider should retry later. */
export class StoreUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super('STORE_UNAVAILABLE', 'the event store is unavailable; retry later', 503, true);
    if (cause !== undefined) this.cause = cause;
  }
}

/** The request cannot be carried out in the resource's current state (e.g. no API key to call Stripe with). */
export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, 409);
  }
}

/** A provider's API refused, or could not answer, a call made on the user's behalf. */
export class ProviderApiError extends AppError {
  constructor(code: string, message: string, status: 400 | 502) {
    super(code, message, status, status === 502);
  }
}

/** Stored credentials this master key cannot open (SLUICE_SECRET_KEY or secret.key replaced, or a partial
 *  re-key). 503 so a provider retries the webhook: nothing is lost once the right key is back. */
export class SecretUnreadableError extends AppError {
  constructor(provider: string) {
    super(
      'SECRET_UNREADABLE',
      `the stored ${provider} credentials of this workspace cannot be decrypted with the current master key ` +
        "(SLUICE_SECRET_KEY or the data dir's secret.key changed since they were saved); restore the previous key, " +
        `or save the ${provider} connection again with all of its secrets`,
      503,
      true,
      { provider },
    );
  }
}

/** An outbound URL over plain http where only https is allowed (SLUICE_OUTBOUND_ALLOW_HTTP). */
export class UrlNotHttpsError extends AppError {
  constructor(field: string, message: string) {
    super('URL_NOT_HTTPS', message, 400, false, { field });
  }
}

/** An event type or filter that names nothing Sluice knows; `suggestion` is the closest known name, if any. */
export class UnknownEventTypeError extends AppError {
  constructor(field: string, name: string, suggestion: string | null) {
    super(
      'UNKNOWN_EVENT_TYPE',
      `${field}: unknown event type ${JSON.stringify(name)}` +
        (suggestion ? ` (did you mean ${suggestion}?)` : '') +
        '; known: business types such as subscription.canceled or subscription.*, stripe.<type>, piano.<type>, *, and custom types once published in this workspace',
      400,
      false,
      { field, ...(suggestion ? { suggestion } : {}) },
    );
  }
}

/** Well-formed input that cannot be carried out as it is (status 422); `details` lists every problem found. */
export class UnprocessableError extends AppError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, 422, false, details);
  }
}
