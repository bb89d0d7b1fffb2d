/** @jsx h */
/** @jsxFrag Fragment */
// One customer as the CRM knows them: parity (per access key, what they pay for against what they have, with
// the rule that decided, the open incidents, and "Check now"), identities (one per provider, linked as one
// person), subscriptions, invoices, payments, access with its expiry, checkout sessions, and the timeline of
// events (each a link).
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { Ctx } from '../../services/context.js';
import { getCustomer } from '../../services/crm/crm-read.js';
import { customerParity, type CustomerParity } from '../../services/parity/customer-parity.js';
import { requestCheck } from '../../services/parity/request-check.js';
import { CustomerParity as ParitySection } from '../components/customer-parity.js';
import { customerLabel, StatusBadge } from '../components/events.js';
import { Empty, Flash, Layout, Time } from '../components/layout.js';
import { q1 } from '../components/outbound.js';
import { h, Fragment, type Child, type Html } from '../jsx.js';
import { requireRole, requireWorkspace, sendHtml } from '../request.js';

type Row = Record<string, unknown>;

const text = (v: unknown): Html | string => (v === null || v === undefined || v === '' ? <span class="muted">—</span> : String(v));

/** An amount in the currency's minor unit (Stripe's cents), as a person reads it. */
export function money(amount: unknown, currency: unknown): string {
  if (typeof amount !== 'number' && typeof amount !== 'string') return '—';
  const n = Number(amount);
  if (!Number.isFinite(n)) return '—';
  const code = typeof currency === 'string' && /^[a-z]{3}$/i.test(currency) ? currency.toUpperCase() : undefined;
  if (!code) return String(n);
  try {
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
    return new Intl.NumberFormat('en', { style: 'currency', currency: code }).format(n / 10 ** digits);
  } catch {
    return `${n} ${code}`;
  }
}

const when = (v: unknown) => <Time at={typeof v === 'string' ? v : null} />;

function Section(props: { id: string; title: string; count: number; empty: string; children?: Child }): Html {
  return (
    <section aria-labelledby={props.id}>
      <h2 id={props.id}>
        {props.title} <span class="muted">({props.count})</span>
      </h2>
      {props.count === 0 ? <Empty>{props.empty}</Empty> : <div class="table-wrap">{props.children}</div>}
    </section>
  );
}

function Head(props: { cols: string[] }): Html {
  return (
    <thead>
      <tr>
        {props.cols.map((c) => (
          <th scope="col">{c}</th>
        ))}
      </tr>
    </thead>
  );
}

/** The notice after "Check now" redirected here: a fixed sentence and a checked number. */
function checkedFlash(query: unknown): Html | null {
  if (q1(query, 'checked') !== '1') return null;
  const raw = q1(query, 'findings');
  const n = raw && /^\d{1,6}$/.test(raw) ? Number(raw) : 0;
  return (
    <Flash kind={n === 0 ? 'ok' : 'info'}>
      {n === 0
        ? 'Checked now: this customer has exactly the access they pay for.'
        : `Checked now: ${n} ${n === 1 ? 'finding' : 'findings'}, each an incident below and in the inbox.`}
    </Flash>
  );
}

const Deleted = (props: { row: Row }) => (props.row.deleted ? <span class="badge bad">deleted</span> : <></>);

export async function customerDetailPage(app: FastifyInstance, { ctx }: { ctx: Ctx }): Promise<void> {
  app.get<{ Params: { ws: string; id: string } }>('/workspaces/:ws/customers/:id', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    const ws = page.workspace.id;
    if (request.params.id.length > 200) throw new AppError('CUSTOMER_NOT_FOUND', 'there is no customer with this id', 404);
    const c = (await getCustomer(ctx, ws, request.params.id)) as Row & {
      id: string;
      identities: { id: string; provider: string; providerId: string; email: string | null }[];
      subscriptions: Row[];
      invoices: Row[];
      payments: Row[];
      access: Row[];
      checkoutSessions: Row[];
      timeline: Row[];
    };
    const label = customerLabel(c);
    const now = ctx.now();
    // The parity view is computed, not stored: a failure to compute it leaves the rest of the page readable.
    let parity: CustomerParity | undefined;
    let parityProblem: string | undefined;
    try {
      parity = await customerParity(ctx, ws, c.id);
    } catch (err) {
      ctx.log.error({ err, customerId: c.id }, 'parity view of a customer failed');
      parityProblem = 'The parity view could not be computed just now; the log has the details.';
    }
    return sendHtml(
      reply,
      <Layout {...page.layout(`Customer ${label}`, 'customers')}>
        <p>
          <a href={`/workspaces/${ws}/customers`}>← All customers</a>
        </p>
        <h1>
          {label} <Deleted row={c} />
        </h1>
        <dl class="props">
          <dt>Name</dt>
          <dd>{text(c.name)}</dd>
          <dt>Email</dt>
          <dd>{text(c.email)}</dd>
          <dt>Phone</dt>
          <dd>{text(c.phone)}</dd>
          <dt>Sluice id</dt>
          <dd>
            <code>{c.id}</code>
          </dd>
          <dt>First seen</dt>
          <dd>{when(c.createdAt)}</dd>
          <dt>Updated</dt>
          <dd>{when(c.updatedAt)}</dd>
        </dl>

        <ParitySection
          ws={ws}
          customerId={c.id}
          parity={parity}
          problem={parityProblem}
          csrf={page.session.csrfToken}
          mayCheck={page.role !== 'viewer'}
          flash={checkedFlash(request.query)}
          providerIds={new Map([...c.subscriptions, ...c.access].map((r) => [String(r.id), String(r.providerId ?? r.id)]))}
        />

        <Section id="h-identities" title="Identities" count={c.identities.length} empty="No identity.">
          <table>
            <Head cols={['Provider', 'Provider id', 'Email', 'Sluice id']} />
            <tbody>
              {c.identities.map((i) => (
                <tr>
                  <td>{i.provider}</td>
                  <td>
                    <code>{i.providerId}</code>
                  </td>
                  <td>{text(i.email)}</td>
                  <td>
                    {i.id === c.id ? (
                      <code>{i.id}</code>
                    ) : (
                      <a href={`/workspaces/${ws}/customers/${i.id}`}>
                        <code>{i.id}</code>
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>

        <Section id="h-access" title="Access" count={c.access.length} empty="No access granted.">
          <table>
            <Head cols={['Resource', 'Status', 'Granted', 'Expires', 'Revoked']} />
            <tbody>
              {c.access.map((a) => {
                const expires = typeof a.expiresAt === 'string' ? a.expiresAt : null;
                return (
                  <tr>
                    <td>
                      <code>{String(a.resource)}</code> <Deleted row={a} />
                    </td>
                    <td>
                      <span class={`badge ${a.status === 'active' ? 'ok' : a.status === 'revoked' ? 'bad' : ''}`.trim()}>
                        {String(a.status)}
                      </span>
                    </td>
                    <td>{when(a.grantedAt)}</td>
                    <td>
                      {expires ? (
                        <>
                          <Time at={expires} /> {new Date(expires).getTime() < now ? <span class="muted">(past)</span> : null}
                        </>
                      ) : (
                        'never'
                      )}
                    </td>
                    <td>{when(a.revokedAt)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Section>

        <Section id="h-subscriptions" title="Subscriptions" count={c.subscriptions.length} empty="No subscription.">
          <table>
            <Head cols={['Subscription', 'Plan', 'Status', 'Current period ends', 'Cancels at period end']} />
            <tbody>
              {c.subscriptions.map((s) => (
                <tr>
                  <td>
                    <code>{String(s.providerId)}</code> <Deleted row={s} />
                  </td>
                  <td>{text(s.planName ?? s.priceProviderId)}</td>
                  <td>{text(s.status)}</td>
                  <td>{when(s.currentPeriodEnd)}</td>
                  <td>{s.cancelAtPeriodEnd ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>

        <Section id="h-invoices" title="Invoices" count={c.invoices.length} empty="No invoice.">
          <table>
            <Head cols={['Invoice', 'Status', 'Total', 'Paid', 'Paid at']} />
            <tbody>
              {c.invoices.map((i) => (
                <tr>
                  <td>
                    <code>{String(i.number ?? i.providerId)}</code> <Deleted row={i} />
                  </td>
                  <td>{text(i.status)}</td>
                  <td class="num">{money(i.total, i.currency)}</td>
                  <td class="num">{money(i.amountPaid, i.currency)}</td>
                  <td>{when(i.paidAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>

        <Section id="h-payments" title="Payments" count={c.payments.length} empty="No payment, refund or dispute.">
          <table>
            <Head cols={['Payment', 'Kind', 'Status', 'Amount', 'Refunded', 'Failure']} />
            <tbody>
              {c.payments.map((p) => (
                <tr>
                  <td>
                    <code>{String(p.providerId)}</code> <Deleted row={p} />
                  </td>
                  <td>{String(p.kind).replace('_', ' ')}</td>
                  <td>{text(p.status)}</td>
                  <td class="num">{money(p.amount, p.currency)}</td>
                  <td class="num">{p.amountRefunded ? money(p.amountRefunded, p.currency) : '—'}</td>
                  <td>{text(p.failureMessage)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>

        <Section id="h-checkout" title="Checkout sessions" count={c.checkoutSessions.length} empty="No checkout session.">
          <table>
            <Head cols={['Session', 'Mode', 'Status', 'Payment', 'Total']} />
            <tbody>
              {c.checkoutSessions.map((s) => (
                <tr>
                  <td>
                    <code>{String(s.providerId)}</code> <Deleted row={s} />
                  </td>
                  <td>{text(s.mode)}</td>
                  <td>{text(s.status)}</td>
                  <td>{text(s.paymentStatus)}</td>
                  <td class="num">{money(s.amountTotal, s.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>

        <Section id="h-timeline" title="Timeline" count={c.timeline.length} empty="No event linked yet.">
          <table>
            <Head cols={['When (UTC)', 'Provider', 'Event', 'Status']} />
            <tbody>
              {c.timeline.map((e) => (
                <tr>
                  <td>{when(e.providerCreatedAt ?? e.receivedAt)}</td>
                  <td>{String(e.provider)}</td>
                  <td>
                    <a href={`/workspaces/${ws}/events/${String(e.id)}`}>{String(e.type)}</a>
                  </td>
                  <td>
                    <StatusBadge status={String(e.status)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </Layout>,
    );
  });

  app.post<{ Params: { ws: string; id: string } }>('/workspaces/:ws/customers/:id/check', async (request, reply) => {
    const page = await requireWorkspace(ctx, request, request.params.ws);
    requireRole(page, 'member', 'Checking a customer');
    const ws = page.workspace.id;
    if (request.params.id.length > 200) throw new AppError('CUSTOMER_NOT_FOUND', 'there is no customer with this id', 404);
    // One customer, waited for: the page shows the outcome at once (a few queries).
    const answer = await requestCheck(ctx, { workspaceId: ws, customerId: request.params.id, wait: true });
    const findings = answer.queued ? 0 : answer.findings.length;
    return reply.redirect(
      `/workspaces/${ws}/customers/${encodeURIComponent(request.params.id)}?checked=1&findings=${findings}#parity`,
      303,
    );
  });
}
