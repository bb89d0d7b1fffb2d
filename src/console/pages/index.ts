// The pages of a workspace, one module each; routes.ts registers them all.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { overviewPage } from './overview.js';
import { troubleshootingPage } from './troubleshooting.js';

export const workspacePages: ((app: FastifyInstance, opts: { ctx: Ctx }) => Promise<void>)[] = [overviewPage, troubleshootingPage];
