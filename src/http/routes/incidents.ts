// The incident inbox: list and read incidents; acknowledge, resolve, ignore or reopen one (member or admin; a
// viewer reads only).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Ctx } from '../../services/context.js';
import { changeIncident, INCIDENT_ACTIONS, type IncidentAction } from '../../services/incidents/change-incident.js';
import { INCIDENT_KINDS, INCIDENT_STATUSES } from '../../services/incidents/incident-kinds.js';
import { getIncident, listIncidents } from '../../services/incidents/list-incidents.js';
import {
  apiErrors,
  body,
  idOf,
  isoTime,
  jsonObject,
  nullable,
  pageOf,
  paging,
  query,
  text,
  view,
  wsAnd,
  WsParams,
} from '../schemas/common.js';

const tags = ['incidents'];
const IncidentParams = wsAnd({ id: idOf('inc', 'the incident id (inc_…)') });

export const Incident = view(
  {
    id: Type.String(),
    kind: Type.String({ description: INCIDENT_KINDS.join(', ') }),
    severity: Type.String({ description: 'info, warning or critical' }),
    status: Type.String({ description: INCIDENT_STATUSES.join(', ') }),
    dedupKey: Type.String({ description: 'kind:provider:subject[:qualifier]; one live (open, acknowledged or ignored) incident per key' }),
    subject: Type.String({ description: 'what it is about: a customer, an endpoint, or the workspace for workspace-wide facts' }),
    title: Type.String(),
    details: jsonObject('expected vs actual, and the rule or measure that decided'),
    evidence: jsonObject('event ids, run id, customer ids: what to follow to see it'),
    occurrences: Type.Integer({ description: 'times it was found while live (a recurrence folds in)' }),
    endpointId: nullable(Type.String()),
    firstSeenAt: isoTime(),
    lastSeenAt: isoTime(),
    acknowledgedAt: nullable(isoTime()),
    acknowledgedBy: nullable(Type.String({ description: 'who: user:<id>, an API key id, admin or cli' })),
    ignoredAt: nullable(isoTime()),
    ignoredBy: nullable(Type.String()),
    resolvedAt: nullable(isoTime()),
    resolvedBy: nullable(
      Type.String({ description: 'who: a person (as acknowledgedBy) or the check, sample or event that found it clean' }),
    ),
    previousId: nullable(Type.String({ description: 'the resolved incident of the same key this one recurs after' })),
  },
  'an incident',
);

const ACTION_SUMMARY: Record<IncidentAction, string> = {
  acknowledge: 'Acknowledge an open incident (someone is on it); it still resolves by itself when found clean',
  resolve: 'Resolve an incident by hand (publishes incident.resolved once); a recurrence opens a new incident',
  ignore: 'Ignore an incident: it stays live but suppressed (recurrences fold into it, nothing is re-opened or published)',
  reopen: 'Reopen a resolved or ignored incident (409 when another live incident holds its key)',
};

export async function incidentRoutes(plain: FastifyInstance, opts: { ctx: Ctx }): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { ctx } = opts;
  app.get(
    '/workspaces/:ws/incidents',
    {
      schema: {
        summary: 'List incidents, newest first (default: open and acknowledged)',
        tags,
        params: WsParams,
        querystring: query({
          ...paging,
          status: Type.Optional(text(100, { description: `a status or a comma list of them: ${INCIDENT_STATUSES.join(', ')}` })),
          kind: Type.Optional(text(400, { description: `a kind or a comma list of them: ${INCIDENT_KINDS.join(', ')}` })),
          subject: Type.Optional(text(200, { description: 'a customer id, an endpoint id or the workspace id' })),
        }),
        response: { 200: pageOf(Incident), ...apiErrors() },
      },
    },
    async (r) => listIncidents(ctx, r.params.ws, r.query),
  );
  app.get(
    '/workspaces/:ws/incidents/:id',
    { schema: { summary: 'One incident', tags, params: IncidentParams, response: { 200: Incident, ...apiErrors() } } },
    async (r) => getIncident(ctx, r.params.ws, r.params.id),
  );
  for (const action of INCIDENT_ACTIONS) {
    app.post(
      `/workspaces/:ws/incidents/:id/${action}`,
      {
        schema: {
          summary: ACTION_SUMMARY[action],
          tags,
          params: IncidentParams,
          body: nullable(body({}, 'no fields: send no body, or {}')),
          response: { 200: Incident, ...apiErrors(409) },
        },
      },
      async (r) => changeIncident(ctx, r.principal, r.params.ws, r.params.id, action),
    );
  }
}
