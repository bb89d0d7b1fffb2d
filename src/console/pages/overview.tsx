/** @jsx h */
/** @jsxFrag Fragment */
// Overview: where a workspace stands at a glance. The onboarding checklist ticks itself from what exists; the
// KPIs and charts cover the last hour, day or week (?range=); queues and open incidents are as of now.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../services/context.js';
import { getOverview, type OverviewView } from '../../services/ops/get-overview.js';
import { parseRange, RANGES, type Range } from '../../services/ops/overview-buckets.js';
import { webhookUrls } from '../../services/workspaces/workspace-view.js';
import { CopyValue, Empty, Layout, Time } from '../components/layout.js';
import { h, Fragment, type Html } from '../jsx.js';
import { requireWorkspace, sendHtml } from '../request.js';

const RANGE_LABEL: Record<Range, string> = { hour: 'Last hour', day: 'Last day', week: 'Last week' };
const PROVIDER_LABEL: Record<string, string> = { stripe: 'Stripe', piano: 'Piano' };

const num = (n: number) => n.toLocaleString('en-US');
const seconds = (s: number | null) => (s === null ? '—' : s < 10 ? `${s.toFixed(2)} s` : `${Math.round(s).toLocaleString('en-US')} s`);

function Checklist(props: { ws: string; o: OverviewView['onboarding'] }): Html {
  const base = `/workspaces/${props.ws}`;
  const items: { done: boolean; text: string; todo: Html }[] = [
    { done: true, text: 'Workspace created', todo: <></> },
    {
      done: props.o.secretStored,
      text: 'Signing secret stored',
      todo: <a href={`${base}/settings`}>Store the Stripe signing secret or the Piano private key in Settings</a>,
    },
    {
      done: props.o.anyEvent,
      text: 'First event received',
      todo: <a href={`${base}/troubleshooting`}>Send a test event, and see what is missing on the Troubleshooting page</a>,
    },
    {
      done: props.o.anyEndpoint,
      text: 'First endpoint',
      todo: <a href={`${base}/endpoints`}>Add an endpoint that receives Sluice's webhooks</a>,
    },
    {
      done: props.o.anySuccess,
      text: 'First delivery succeeded',
      todo: <a href={`${base}/endpoints`}>Check your endpoints' deliveries</a>,
    },
  ];
  const left = items.filter((i) => !i.done).length;
  return (
    <section aria-labelledby="onboarding-h" class="card onboarding">
      <h2 id="onboarding-h">Getting started</h2>
      <p class="muted">{left === 0 ? 'All set: every step is done.' : `${left} of ${items.length} steps left.`}</p>
      <ol class="checklist">
        {items.map((i) => (
          <li class={i.done ? 'done' : undefined}>
            <span class="visually-hidden">{i.done ? 'Done: ' : 'To do: '}</span>
            {i.text}
            {i.done ? null : <> — {i.todo}</>}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Kpi(props: { label: string; value: string; note?: string }): Html {
  return (
    <div class="card kpi">
      <div class="label">{props.label}</div>
      <div class="value">{props.value}</div>
      {props.note ? <div class="label">{props.note}</div> : null}
    </div>
  );
}

function Chart(props: {
  id: string;
  title: string;
  summary: string;
  series: string[];
  data: (number | null)[][];
  points?: boolean;
  yRange?: [number, number];
}): Html {
  const spec = { title: '', series: props.series, data: props.data, points: props.points, yRange: props.yRange };
  return (
    <figure class="chart-box" aria-labelledby={`${props.id}-cap`}>
      <figcaption id={`${props.id}-cap`}>
        <strong>{props.title}</strong> <span class="muted">{props.summary}</span>
      </figcaption>
      <div class="chart" id={props.id} data-chart={JSON.stringify(spec)}></div>
    </figure>
  );
}

function RangeSwitch(props: { ws: string; range: Range }): Html {
  return (
    <nav aria-label="Time range" class="range-switch">
      <ul>
        {RANGES.map((r) => (
          <li>
            <a href={`/workspaces/${props.ws}/overview?range=${r}`} aria-current={r === props.range ? 'page' : undefined}>
              {RANGE_LABEL[r]}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function OverviewBody(props: { ws: string; name: string; view: OverviewView; urls: { stripe: string; piano: string } }): Html {
  const { view, ws } = props;
  const s = view.series;
  const per = view.bucketSeconds === 60 ? 'minute' : 'hour';
  const rate = s.totals.attempts > 0 ? `${((100 * s.totals.succeeded) / s.totals.attempts).toFixed(1)} %` : '—';
  const rejectedInRange = view.rejections.filter((r) => r.inRange);
  return (
    <>
      <h1>{props.name}</h1>
      <div class="two">
        <Checklist ws={ws} o={view.onboarding} />
        <section aria-labelledby="urls-h" class="card">
          <h2 id="urls-h">Webhook URLs</h2>
          <p>Stripe (paste into Developers → Webhooks)</p>
          <CopyValue value={props.urls.stripe} label="Stripe webhook URL" />
          <p>Piano (paste into the application's webhook settings)</p>
          <CopyValue value={props.urls.piano} label="Piano webhook URL" />
        </section>
      </div>

      <h2 id="activity-h">Activity: {RANGE_LABEL[view.range].toLowerCase()}</h2>
      <RangeSwitch ws={ws} range={view.range} />
      <div class="cards kpis" aria-labelledby="activity-h">
        <Kpi
          label="Events received"
          value={num(s.totals.received)}
          note={s.providers.map((p) => `${PROVIDER_LABEL[p] ?? p}: ${num(s.totals.byProvider[p] ?? 0)}`).join(' · ')}
        />
        <Kpi
          label="Mean processing lag"
          value={seconds(s.totals.meanLagSeconds)}
          note={`over ${num(s.totals.processed)} processed events`}
        />
        <Kpi label="Delivery attempts succeeded" value={rate} note={`${num(s.totals.succeeded)} of ${num(s.totals.attempts)} attempts`} />
        <Kpi
          label="Refused webhooks"
          value={num(rejectedInRange.reduce((n, r) => n + r.count, 0))}
          note={
            rejectedInRange.length
              ? `all-time counts of ${rejectedInRange.length} reason(s) seen in this range`
              : 'no refusal in this range'
          }
        />
        <Kpi
          label="Events waiting"
          value={num(view.queue.pendingEvents)}
          note={view.queue.pendingEvents ? `oldest ${num(view.queue.oldestPendingEventSeconds)} s` : 'queue empty'}
        />
        <Kpi
          label="Deliveries waiting"
          value={num(view.queue.pendingDeliveries)}
          note={
            view.queue.oldestPendingDeliverySeconds !== null ? `oldest ${num(view.queue.oldestPendingDeliverySeconds)} s` : 'queue empty'
          }
        />
        <Kpi label="Open incidents" value={num(view.incidents.length)} />
      </div>

      <div class="charts">
        <Chart
          id="chart-received"
          title={`Events received per ${per}, by provider`}
          summary={`(${num(s.totals.received)} in all)`}
          series={s.providers.map((p) => PROVIDER_LABEL[p] ?? p)}
          data={[s.starts, ...s.received]}
        />
        <Chart
          id="chart-lag"
          title={`Processing lag per ${per} (mean seconds from receipt to processing)`}
          summary={`(mean ${seconds(s.totals.meanLagSeconds)})`}
          series={['Lag (s)']}
          data={[s.starts, s.lagSeconds]}
          points
        />
        <Chart
          id="chart-success"
          title={`Delivery attempts succeeded per ${per} (%)`}
          summary={`(${rate} overall)`}
          series={['Succeeded (%)']}
          data={[s.starts, s.successPercent]}
          points
          yRange={[0, 100]}
        />
      </div>

      <div class="two">
        <section aria-labelledby="rejected-h">
          <h2 id="rejected-h">Refused webhooks by reason</h2>
          {view.rejections.length === 0 ? (
            <Empty>No webhook has been refused.</Empty>
          ) : (
            <table>
              <caption class="visually-hidden">Refused webhooks by provider and reason, with all-time counts</caption>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Count</th>
                  <th scope="col">Last</th>
                </tr>
              </thead>
              <tbody>
                {view.rejections.map((r) => (
                  <tr>
                    <td>{PROVIDER_LABEL[r.provider] ?? r.provider}</td>
                    <td>
                      {r.words} <code>{r.reason}</code>
                    </td>
                    <td class="num">{num(r.count)}</td>
                    <td>
                      <Time at={r.lastAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {view.rejections.length > 0 ? (
            <p>
              <a href={`/workspaces/${ws}/troubleshooting`}>How to fix each reason (Troubleshooting)</a>
            </p>
          ) : null}
        </section>
        <section aria-labelledby="incidents-h">
          <h2 id="incidents-h">Open incidents</h2>
          {view.incidents.length === 0 ? (
            <Empty>No open incident.</Empty>
          ) : (
            <table>
              <caption class="visually-hidden">Open incidents, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Opened</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Detail</th>
                  <th scope="col">Endpoint</th>
                </tr>
              </thead>
              <tbody>
                {view.incidents.map((i) => (
                  <tr>
                    <td>
                      <Time at={i.openedAt} />
                    </td>
                    <td>{i.kind}</td>
                    <td>{i.detail}</td>
                    <td>{i.endpointId ? <a href={`/workspaces/${ws}/endpoints/${i.endpointId}`}>Endpoint {i.endpointId}</a> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}

export async function overviewPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string }; Querystring: { range?: string } }>('/workspaces/:ws/overview', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const range = parseRange(request.query.range);
    const view = await getOverview(ctx, page.workspace.id, range);
    return sendHtml(
      reply,
      <Layout {...page.layout('Overview', 'overview')} scripts={['uplot.js', 'charts.js']} styles={['uplot.css']}>
        <OverviewBody ws={page.workspace.id} name={page.workspace.name} view={view} urls={webhookUrls(ctx, page.workspace.id)} />
      </Layout>,
    );
  });
}
