// Screenshots of the console's main pages for the README and docs/console.md, from a real Sluice with a little
// realistic data (signed Stripe events through the webhook URL, an outbound endpoint with deliveries to a local
// receiver, a parity policy whose "digital" key comes from the team's app, so a check finds the subscribers
// without a grant; then workflows and their runs). The parity and workflow pages are shot in light and dark. Needs a PostgreSQL (DATABASE_URL) and Chromium.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx scripts/console-screenshots.ts [out dir]
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { saveParityPolicy } from '../src/db/queries/parity-settings.js';
import { DEFAULT_POLICY } from '../src/parity/policy.js';
import { changeIncident } from '../src/services/incidents/change-incident.js';
import { listIncidents } from '../src/services/incidents/list-incidents.js';
import { checkCustomers } from '../src/services/parity/run-checks.js';
import { startTestApp, waitFor } from '../test/helpers/app.js';
import { launchBrowser, makeUser, signedIn } from '../test/helpers/browser.js';
import { startReceiver } from '../test/helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../test/helpers/stripe.js';

const out = path.resolve(process.argv[2] ?? 'docs/screenshots');
mkdirSync(out, { recursive: true });
const SECRET = 'whsec_screenshots_0123456789';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

const app = await startTestApp({ config: { outboundAllow: LOOPBACK, retrySchedule: [0, 30, 60] } });
const receiver = await startReceiver();
const browser = await launchBrowser();
try {
  const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Northwind Press' })).body.id as string;
  await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, {
    url: `${receiver.url}/sluice`,
    description: 'Fulfilment service',
    eventTypes: ['subscription.*', 'payment.*', 'customer.*'],
  });
  const now = Math.floor(Date.now() / 1000);
  const people = [
    ['cus_NwAda01', 'ada@example.com', 'Ada Lovelace', 'price_digital', 'Digital'],
    ['cus_NwGrace2', 'grace@example.com', 'Grace Hopper', 'price_print', 'Print + Digital'],
    ['cus_NwAlan03', 'alan@example.com', 'Alan Turing', 'price_digital', 'Digital'],
  ] as const;
  const payloads: string[] = [];
  people.forEach(([id, email, name, price, nickname], i) => {
    const t = now - 3600 + i * 600;
    const sub = {
      id: `sub_${id.slice(4)}`,
      object: 'subscription',
      customer: id,
      status: 'active',
      cancel_at_period_end: false,
      current_period_start: t,
      current_period_end: t + 30 * 86400,
      items: { object: 'list', data: [{ id: `si_${i}`, price: { id: price, nickname, product: `prod_${price.slice(6)}` }, quantity: 1 }] },
    };
    payloads.push(
      stripeEvent('customer.created', { id, email, name }, { created: t }),
      stripeEvent('customer.subscription.created', sub, { created: t + 5 }),
      stripeEvent(
        'invoice.paid',
        {
          id: `in_${id.slice(4)}`,
          object: 'invoice',
          customer: id,
          subscription: sub.id,
          status: 'paid',
          amount_paid: 900 + i * 500,
          currency: 'eur',
          billing_reason: 'subscription_create',
        },
        { created: t + 8 },
      ),
    );
  });
  for (const p of payloads) await postStripe(app.url, ws, p, signStripe(p, SECRET));
  await waitFor(async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0, 'processing');
  await waitFor(async () => receiver.requests.length > 0, 'deliveries');

  // Parity: "digital" is granted by the team's app, which reported nobody yet; "print" has no source (not checked).
  await saveParityPolicy(app.db, ws, {
    ...DEFAULT_POLICY,
    accessMap: [
      { match: { product: 'prod_digital' }, key: 'digital', sources: ['app'] },
      { match: { product: 'prod_print' }, key: 'print', sources: [] },
    ],
  });
  const run = await checkCustomers(app.ctx, { workspaceId: ws, customerIds: 'active', trigger: 'manual' });
  const incidents = (await listIncidents(app.ctx, ws, {})).data;
  if (incidents[0]) await changeIncident(app.ctx, { kind: 'cli' }, ws, incidents[0].id, 'acknowledge');

  const admin = await makeUser(app, 'admin');
  const { context, page } = await signedIn(browser, app, admin, `/workspaces/${ws}/overview`);
  const events = (await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=5`)).body.data as { id: string }[];
  const endpoints = (await app.api('GET', `/api/v1/workspaces/${ws}/endpoints`)).body.data as { id: string }[];
  const customers = (await app.api('GET', `/api/v1/workspaces/${ws}/customers`)).body.data as { id: string }[];
  const shots: [string, string][] = [
    ['overview', `/workspaces/${ws}/overview`],
    ['events', `/workspaces/${ws}/events`],
    ['event', `/workspaces/${ws}/events/${events[0]!.id}`],
    ['customers', `/workspaces/${ws}/customers`],
    ['customer', `/workspaces/${ws}/customers/${customers[0]!.id}`],
    ['endpoints', `/workspaces/${ws}/endpoints`],
    ['endpoint', `/workspaces/${ws}/endpoints/${endpoints[0]!.id}`],
    ['settings', `/workspaces/${ws}/settings`],
    ['troubleshooting', `/workspaces/${ws}/troubleshooting`],
    ['incidents', `/workspaces/${ws}/incidents`],
    ['incident', `/workspaces/${ws}/incidents/${incidents[incidents.length - 1]?.id ?? ''}`],
    ['checks', `/workspaces/${ws}/checks`],
    ['check-run', `/workspaces/${ws}/checks/${run.runId}`],
  ];
  for (const [name, url] of shots) {
    await page.goto(`${app.url}${url}`);
    await page.waitForLoadState('networkidle').catch(() => {});
    await page.screenshot({ path: path.join(out, `${name}.png`) });
    process.stdout.write(`${name}.png\n`);
  }
  await page.emulateMedia({ colorScheme: 'dark' });
  for (const [name, url] of [
    ['events', `/workspaces/${ws}/events`],
    ...shots.filter(([n]) => ['customer', 'incidents', 'incident', 'checks', 'check-run'].includes(n)),
  ] as [string, string][]) {
    await page.goto(`${app.url}${url}`);
    await page.waitForLoadState('networkidle').catch(() => {});
    await page.screenshot({ path: path.join(out, `${name}-dark.png`) });
    process.stdout.write(`${name}-dark.png\n`);
  }

  // Workflows, set up after the pages above were shot (their runs would add events and messages to them): a
  // welcome to Slack replayed over the stored customers, a course purchase run by a new checkout, a CRM sync whose
  // receiver answers 502 (a failed run), and a dunning workflow not enabled yet.
  await page.emulateMedia({ colorScheme: 'light' });
  const api = (method: string, p: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${p}`, body);
  await api('PUT', '/secrets/SLACK_URL', { value: `${receiver.url}/slack/T000/B000` });
  await api('PUT', '/secrets/APP_TOKEN', { value: 'token-for-the-course-app' });
  const workflow = async (d: unknown) => {
    const res = await api('POST', '/workflows', d);
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    return res.body.id as string;
  };
  await workflow({
    name: 'Dunning: tag and tell Slack',
    enabled: false,
    trigger: { source: 'sluice', object: 'payment', actions: ['failed'] },
    steps: [
      { id: 'tag', kind: 'crm.tag', add: ['dunning'] },
      { id: 'slack', kind: 'slack', webhook: '{{ secrets.SLACK_URL }}', text: 'Payment failed: {{ customer.email }}' },
    ],
  });
  const crm = await workflow({
    name: 'Sync paid invoices to the CRM',
    trigger: { source: 'stripe', object: 'invoice', actions: ['paid'] },
    steps: [
      {
        id: 'push',
        kind: 'http',
        url: `${receiver.url}/crm/invoices`,
        body: { invoice: '{{ event.id }}', amount: '{{ event.amount_paid }}', email: '{{ customer.email }}' },
        retry: { max: 0 },
      },
    ],
  });
  const buyers = await workflow({
    name: 'Course buyers',
    trigger: { source: 'stripe', object: 'checkout_session', actions: ['completed', 'expired'], if: "event.payment_status == 'paid'" },
    steps: [
      {
        id: 'notify',
        kind: 'http',
        method: 'POST',
        url: `${receiver.url}/courses/enrol`,
        headers: { authorization: 'Bearer {{ secrets.APP_TOKEN }}' },
        body: { email: '{{ customer.email }}', course: "{{ event.metadata.?course.orValue('course-101') }}", session: '{{ event.id }}' },
      },
      {
        id: 'slack',
        kind: 'slack',
        webhook: '{{ secrets.SLACK_URL }}',
        text: '{{ customer.name }} bought a course ({{ event.amount_total / 100 }} {{ event.currency }})',
      },
    ],
  });
  const welcome = await workflow({
    name: 'Welcome new readers',
    trigger: { source: 'sluice', object: 'customer', actions: ['created'] },
    steps: [
      { id: 'slack', kind: 'slack', webhook: '{{ secrets.SLACK_URL }}', text: 'New reader: {{ customer.name }} ({{ customer.email }})' },
    ],
  });
  receiver.answer = (req) =>
    req.path.startsWith('/crm') ? { status: 502, body: '<html><body>502 Bad Gateway</body></html>' } : { status: 200 };
  const checkout = stripeEvent(
    'checkout.session.completed',
    {
      id: 'cs_NwAda01',
      object: 'checkout.session',
      customer: 'cus_NwAda01',
      payment_status: 'paid',
      status: 'complete',
      amount_total: 4900,
      currency: 'eur',
      metadata: { course: 'data-journalism' },
    },
    { created: now },
  );
  await postStripe(app.url, ws, checkout, signStripe(checkout, SECRET));
  await api('POST', `/workflows/${welcome}/replay`, { since: new Date(Date.now() - 3 * 3600_000).toISOString() });
  const invoice = (await api('GET', '/events?type=invoice.paid&limit=1')).body.data[0].id as string;
  await api('POST', `/workflows/${crm}/replay`, { eventIds: [invoice] });
  const settled = async (id: string, n: number) =>
    waitFor(async () => {
      const r = (await api('GET', `/workflows/${id}/runs`)).body.data as { id: string; status: string }[];
      return r.length >= n && r.every((x) => ['succeeded', 'failed', 'filtered'].includes(x.status)) ? r : undefined;
    }, 'workflow runs');
  const [buyersRun] = await settled(buyers, 1);
  await settled(welcome, 3);
  const [crmRun] = await settled(crm, 1);
  const base = `/workspaces/${ws}/workflows`;
  const flows: [string, string, boolean][] = [
    ['workflows', base, false],
    ['workflow', `${base}/${buyers}`, false],
    ['workflow-runs', `${base}/${welcome}/runs`, false],
    ['workflow-run', `${base}/${buyers}/runs/${buyersRun!.id}`, true],
    ['workflow-run-failed', `${base}/${crm}/runs/${crmRun!.id}`, true],
  ];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const suffix = scheme === 'dark' ? '-dark' : '';
    for (const [name, url, full] of flows) {
      await page.goto(`${app.url}${url}`);
      await page.screenshot({ path: path.join(out, `${name}${suffix}.png`), fullPage: full });
      process.stdout.write(`${name}${suffix}.png\n`);
    }
    // A dry run of the course workflow on the stored checkout, and a save refused with its problems.
    await page.goto(`${app.url}${base}/${buyers}`);
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.waitForURL(/dry-run/);
    await page.locator('#dry-run').screenshot({ path: path.join(out, `workflow-dry-run${suffix}.png`) });
    process.stdout.write(`workflow-dry-run${suffix}.png\n`);
    const text = await page.getByLabel('Definition (JSON)').inputValue();
    await page.getByLabel('Definition (JSON)').fill(text.replace('"checkout_session"', '"checkout_sesion"').replace("'paid'", "'paid"));
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.waitForLoadState('load');
    await page.locator('#h-definition').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(out, `workflow-problems${suffix}.png`) });
    process.stdout.write(`workflow-problems${suffix}.png\n`);
  }
  await context.close();
} finally {
  await browser.close();
  await receiver.close();
  await app.close();
}
