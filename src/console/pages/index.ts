// The pages of a workspace, one module each; routes.ts registers them all.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { deliveryPage } from './delivery.js';
import { endpointDetailPage } from './endpoint-detail.js';
import { endpointsPage } from './endpoints.js';
import { hooksPage } from './hooks.js';
import { incidentsPage } from './incidents.js';
import { messagesPage } from './messages.js';
import { checksPage } from './checks.js';
import { customerDetailPage } from './customer-detail.js';
import { customersPage } from './customers.js';
import { eventDetailPage } from './event-detail.js';
import { eventsPage } from './events.js';
import { eventsStream } from './events-stream.js';
import { overviewPage } from './overview.js';
import { settingsPage } from './settings.js';
import { troubleshootingPage } from './troubleshooting.js';
import { workflowDetailPage } from './workflow-detail.js';
import { workflowRunsPage } from './workflow-runs.js';
import { workflowsPage } from './workflows.js';

export const workspacePages: ((app: FastifyInstance, opts: { ctx: Ctx }) => Promise<void>)[] = [
  overviewPage,
  endpointsPage,
  endpointDetailPage,
  deliveryPage,
  messagesPage,
  hooksPage,
  eventsPage,
  eventsStream,
  eventDetailPage,
  customersPage,
  customerDetailPage,
  incidentsPage,
  checksPage,
  settingsPage,
  troubleshootingPage,
  workflowsPage,
  workflowDetailPage,
  workflowRunsPage,
];
