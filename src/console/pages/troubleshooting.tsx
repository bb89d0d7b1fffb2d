/** @jsx h */
/** @jsxFrag Fragment */
// Troubleshooting: "it is in Stripe but not here", live. The doctor's checks, each with a badge that says its
// state in words, what was seen and how to fix it; then the same for Piano. The checks that ask Stripe (API key,
// endpoint, event types) come in after the page, from /troubleshooting/stripe-api, so a slow Stripe never
// holds the page up; without JavaScript, ?ask=stripe renders them in place.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import type { CheckStatus } from '../../services/connections/check-stripe-connection.js';
import { getStripeApiChecks, getTroubleshooting, type FixPlace, type TroubleCheck } from '../../services/ops/get-troubleshooting.js';
import { CopyValue, Layout, Time } from '../components/layout.js';
import { h, Fragment, type Html } from '../jsx.js';
import { isHtmx, requireWorkspace, sendFragment, sendHtml } from '../request.js';

const BADGE: Record<CheckStatus, { cls: string; text: string }> = {
  ok: { cls: 'badge ok', text: 'OK' },
  warn: { cls: 'badge warn', text: 'Warning' },
  fail: { cls: 'badge bad', text: 'Failing' },
  skip: { cls: 'badge', text: 'Not checked' },
};

function fixHref(ws: string, where: FixPlace): { href: string; text: string } {
  switch (where) {
    case 'settings':
      return { href: `/workspaces/${ws}/settings`, text: 'Open Settings' };
    case 'failed-events':
      return { href: `/workspaces/${ws}/events?status=failed`, text: 'Open the failed events' };
    case 'events':
      return { href: `/workspaces/${ws}/events`, text: 'Open the events' };
  }
}

function CheckItem(props: { ws: string; c: TroubleCheck }): Html {
  const { c } = props;
  const b = BADGE[c.status];
  const link = c.where && c.status !== 'ok' ? fixHref(props.ws, c.where) : null;
  return (
    <li class={`check ${c.status}`}>
      <div class="check-head">
        <span class={b.cls}>{b.text}</span> <strong>{c.name}</strong>
      </div>
      <p>{c.detail}</p>
      {c.fix && c.status !== 'ok' ? (
        <p class="fix">
          <strong>How to fix:</strong> {c.fix} {link ? <a href={link.href}>{link.text}</a> : null}
        </p>
      ) : null}
      {c.failures && c.failures.length > 0 ? (
        <table class="failures">
          <caption class="visually-hidden">{c.name}: refused deliveries by reason</caption>
          <thead>
            <tr>
              <th scope="col">Reason</th>
              <th scope="col">How to fix</th>
              <th scope="col">Count</th>
              <th scope="col">Last</th>
            </tr>
          </thead>
          <tbody>
            {c.failures.map((f) => (
              <tr>
                <td>
                  {f.words} <code>{f.reason}</code>
                </td>
                <td>{f.fix}</td>
                <td class="num">{f.count.toLocaleString('en-US')}</td>
                <td>
                  <Time at={f.lastAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </li>
  );
}

/** How many checks fail, in words; `oob` when sent with the Stripe checks to replace the page's summary. */
function Summary(props: { failing: number; pending: boolean; oob?: boolean }): Html {
  const text =
    props.failing > 0
      ? `${props.failing} check(s) failing.`
      : props.pending
        ? 'No check failing so far; the checks that ask Stripe are still running.'
        : 'No check is failing.';
  return (
    <p
      id="trouble-summary"
      role="status"
      class={props.failing > 0 ? 'flash error' : 'flash ok'}
      hx-swap-oob={props.oob ? 'true' : undefined}
    >
      {text}
    </p>
  );
}

const failingIn = (...lists: TroubleCheck[][]) => lists.flat().filter((c) => c.status === 'fail').length;

function ApiChecks(props: { ws: string; checks: TroubleCheck[] }): Html {
  return (
    <ul class="checks" id="stripe-api-checks">
      {props.checks.map((c) => (
        <CheckItem ws={props.ws} c={c} />
      ))}
    </ul>
  );
}

export async function troubleshootingPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string }; Querystring: { ask?: string } }>('/workspaces/:ws/troubleshooting', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    const view = await getTroubleshooting(ctx, ws);
    const askNow = request.query.ask === 'stripe' && view.stripe.hasApiKey;
    const apiChecks = askNow ? await getStripeApiChecks(ctx, ws) : null;
    const failing = failingIn(view.stripe.checks, view.piano.checks, apiChecks ?? []);
    return sendHtml(
      reply,
      <Layout {...page.layout('Troubleshooting', 'troubleshooting')}>
        <h1>Troubleshooting</h1>
        <p>
          It is in Stripe (or Piano) but not here? Work down the list: the first failing check is usually the cause. The page checks again
          each time it is opened.
        </p>
        <Summary failing={failing} pending={view.stripe.hasApiKey && !apiChecks} />

        <section aria-labelledby="stripe-h">
          <h2 id="stripe-h">Stripe</h2>
          <p>Webhook URL (the endpoint in Stripe must point here)</p>
          <CopyValue value={view.stripe.webhookUrl} label="Stripe webhook URL" />
          <ul class="checks">
            {view.stripe.checks.map((c) => (
              <CheckItem ws={ws} c={c} />
            ))}
          </ul>
          {view.stripe.hasApiKey ? (
            apiChecks ? (
              <ApiChecks ws={ws} checks={apiChecks} />
            ) : (
              <div hx-get={`/workspaces/${ws}/troubleshooting/stripe-api`} hx-trigger="load" hx-swap="outerHTML">
                <p class="muted">
                  Asking Stripe about the API key, the endpoint and its event types…{' '}
                  <a href={`/workspaces/${ws}/troubleshooting?ask=stripe`}>Check with Stripe now</a>
                </p>
              </div>
            )
          ) : null}
        </section>

        <section aria-labelledby="piano-h">
          <h2 id="piano-h">Piano</h2>
          {view.piano.connected ? (
            <>
              <p>Piano webhook URL (paste into the application's webhook settings)</p>
              <CopyValue value={view.piano.webhookUrl} label="Piano webhook URL" />
              <ul class="checks">
                {view.piano.checks.map((c) => (
                  <CheckItem ws={ws} c={c} />
                ))}
              </ul>
            </>
          ) : (
            <p>
              Piano is not connected. <a href={`/workspaces/${ws}/settings`}>Connect Piano in Settings</a> (application id and private key).
            </p>
          )}
        </section>
      </Layout>,
    );
  });

  // The checks that ask Stripe, as a fragment for the page above (or the whole page without htmx).
  app.get<{ Params: { ws: string } }>('/workspaces/:ws/troubleshooting/stripe-api', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    if (!isHtmx(request)) return reply.redirect(`/workspaces/${page.workspace.id}/troubleshooting?ask=stripe`);
    const [view, checks] = await Promise.all([getTroubleshooting(ctx, page.workspace.id), getStripeApiChecks(ctx, page.workspace.id)]);
    return sendFragment(
      reply,
      <>
        <ApiChecks ws={page.workspace.id} checks={checks} />
        <Summary failing={failingIn(view.stripe.checks, view.piano.checks, checks)} pending={false} oob />
      </>,
    );
  });
}
