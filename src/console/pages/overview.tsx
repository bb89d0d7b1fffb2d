/** @jsx h */
/** @jsxFrag Fragment */
// Overview: where a workspace stands at a glance.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { webhookUrls } from '../../services/workspaces/workspace-view.js';
import { CopyValue, Layout } from '../components/layout.js';
import { h, Fragment } from '../jsx.js';
import { requireWorkspace, sendHtml } from '../request.js';

export async function overviewPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/overview', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const urls = webhookUrls(ctx, page.workspace.id);
    return sendHtml(
      reply,
      <Layout {...page.layout('Overview', 'overview')}>
        <h1>{page.workspace.name}</h1>
        <h2>Webhook URLs</h2>
        <p>Stripe</p>
        <CopyValue value={urls.stripe} label="Stripe webhook URL" />
        <p>Piano</p>
        <CopyValue value={urls.piano} label="Piano webhook URL" />
      </Layout>,
    );
  });
}
