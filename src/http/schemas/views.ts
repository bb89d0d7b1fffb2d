// What the API answers, as documented in the OpenAPI document. Objects are open (`additionalProperties`): the
// fields listed are the contract; a later field is not a breaking change. Responses are written with
// JSON.stringify (see plugins/openapi.ts), so a field missing here is never dropped from an answer.
import { Type } from 'typebox';
import { anyJson, isoTime, nullable, view } from './common.js';

export const WebhookUrls = view({ stripe: Type.String(), piano: Type.String() }, 'the URLs to give Stripe and Piano');

export const Workspace = view({
  id: Type.String(),
  name: Type.String(),
  demo: Type.Boolean({ description: 'demo workspaces store live-mode traffic but ignore it' }),
  retentionDays: nullable(Type.Integer({ description: 'days of history kept; null: the server default (SLUICE_RETENTION_DAYS)' })),
  workflowRunRetentionDays: Type.Optional(
    nullable(
      Type.Integer({ description: 'days finished workflow runs are kept; null: the server default (SLUICE_WORKFLOW_RUN_RETENTION_DAYS)' }),
    ),
  ),
  createdAt: isoTime(),
  webhookUrls: WebhookUrls,
});

export const ApiKeyCreated = view(
  {
    id: Type.String(),
    key: Type.String({ description: 'shown once; only its hash is kept' }),
    name: nullable(Type.String()),
    createdAt: isoTime(),
  },
  'the new API key',
);

export const Health = view(
  {},
  'per provider: last event, last signature failure, rejections by reason, counts by status, lag; outbound; incidents',
);
export const RebuildReport = view({}, 'what a rebuild of the CRM from the stored events changes (applied only with apply: true)');

export const StripeConnection = view({
  provider: Type.Literal('stripe'),
  webhookUrl: Type.String(),
  webhookSecretCount: Type.Integer(),
  hasApiKey: Type.Boolean(),
  mode: nullable(Type.Enum(['test', 'live'])),
  enabled: Type.Boolean({ description: 'false while webhooks are switched off' }),
  updatedAt: isoTime(),
});

export const PianoConnection = view({
  provider: Type.Literal('piano'),
  webhookUrl: Type.String(),
  hasApiToken: Type.Boolean(),
  forwards: Type.Integer({ description: 'enabled Piano proxy destinations' }),
  updatedAt: isoTime(),
});

export const ManagedStripeEndpoint = view({
  endpoint: view({}, 'the endpoint as Stripe describes it (id, url, enabled events); never its secret'),
  webhookSecretCount: Type.Integer(),
});

export const DoctorReport = view({
  workspaceId: Type.String(),
  webhookUrl: Type.String(),
  ok: Type.Boolean(),
  checks: Type.Array(view({})),
});

export const Event = view({
  id: Type.String(),
  provider: Type.String(),
  providerEventId: Type.String(),
  type: Type.String({ description: "the provider's event type, its first 255 bytes (the payload keeps it whole)" }),
  livemode: nullable(Type.Boolean()),
  status: Type.String({ description: 'received, processed, ignored or failed' }),
  attempts: Type.Integer(),
  receivedAt: isoTime(),
  processedAt: nullable(isoTime()),
  nextAttemptAt: nullable(isoTime()),
  error: Type.Optional(Type.String({ description: 'why the last attempt failed or the event was ignored, at most 1,000 bytes' })),
  payload: Type.Optional(anyJson('the provider payload as stored (detail only)')),
});

export const Message = view({
  id: Type.String(),
  type: Type.String(),
  timestamp: isoTime(),
  workspaceId: Type.String(),
  data: anyJson(),
});

export const PublishedEvent = view({ message: Message, duplicate: Type.Boolean() });

export const Queued = view({}, 'accepted; the work happens in the background');

export const Endpoint = view({
  id: Type.String(),
  kind: Type.Enum(['endpoint', 'hook', 'forward']),
  url: Type.String(),
  description: nullable(Type.String()),
  eventTypes: Type.Array(Type.String()),
  state: Type.Enum(['enabled', 'paused', 'disabled'], {
    description: 'enabled: delivering; paused: deliveries are created and wait; disabled: none are created (recover resends)',
  }),
  enabled: Type.Boolean({ description: 'state is enabled' }),
  disabledReason: nullable(Type.String()),
  rateLimit: nullable(Type.Integer()),
  headerNames: Type.Array(Type.String(), { description: 'names only: header values may be credentials' }),
  failingSince: nullable(isoTime()),
  lastSuccessAt: nullable(isoTime()),
  createdAt: isoTime(),
  updatedAt: isoTime(),
});

export const EndpointCreated = view(
  { id: Type.String(), url: Type.String(), secret: Type.Optional(Type.String({ description: 'whsec_…, shown once' })) },
  'the new endpoint; its signing secret is returned only here',
);

export const Delivery = view({
  id: Type.String(),
  endpointId: Type.String(),
  messageId: Type.String(),
  messageType: Type.String(),
  status: Type.Enum(['pending', 'succeeded', 'failed']),
  attempts: Type.Integer(),
  nextAttemptAt: nullable(isoTime()),
  lastStatusCode: nullable(Type.Integer()),
  lastError: nullable(Type.String()),
  createdAt: isoTime(),
  finishedAt: nullable(isoTime()),
  attemptLog: Type.Optional(Type.Array(view({}), { description: 'every attempt (detail only)' })),
});

export const Hook = view({ id: Type.String(), targetUrl: Type.String(), event: Type.String() });

export const CrmRow = view({ id: Type.String() }, 'a CRM row as camelCase JSON');
export const CustomerDetail = view(
  { id: Type.String() },
  'the customer with identities, subscriptions, invoices, payments, access, checkoutSessions, timeline, tags, attributes',
);

export const Received = view({ received: Type.Literal(true), duplicate: Type.Optional(Type.Literal(true)) }, 'the event is durably stored');
