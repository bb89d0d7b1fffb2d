// Console pages under load of history: a real `sluice start` (compiled dist/) whose workspace holds N events
// (default 1,000,000, a week of them, with customers, messages, deliveries and refused webhooks: see
// console-seed.ts), a console user signed in through the login form, then each main page requested R times
// (default 50) one after the other over one keep-alive loopback connection. The time of a request is from
// sending it to the last byte of the answer, measured here: server render time plus the loopback round trip
// (a fraction of a millisecond). Pages not built yet answer 404 and are reported as "not built".
// The first view of the day and week overviews computes the hourly rollups of every hour it shows (once): it
// is reported on its own line, before the timed requests.
//   npm run build && node --import tsx bench/console-pages.ts [--db postgres|embedded] [--events 1000000] [--requests 50]
// PostgreSQL: DATABASE_URL, else BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test (a fresh schema,
// dropped at the end). Embedded: a fresh data dir, removed at the end. Loopback only; the server is killed after
// --limit-minutes (default 30) whatever happens.
import http from 'node:http';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { startEmbeddedServer } from '../src/db/embedded/supervisor.js';
import { assetWeight } from '../src/console/static.js';
import { agent, api, benchStore, pct, startServer, type BenchDb } from './lib.js';
import { seedConsoleHistory } from './console-seed.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    events: { type: 'string', default: '1000000' },
    requests: { type: 'string', default: '50' },
    'limit-minutes': { type: 'string', default: '30' },
  },
});
const DB = values.db as BenchDb;
if (DB !== 'postgres' && DB !== 'embedded') throw new Error('--db is postgres or embedded');
const N = Math.max(1000, Math.min(Number(values.events), 5_000_000));
const R = Math.max(5, Math.min(Number(values.requests), 500));
const LIMIT_MS = Math.max(1, Math.min(Number(values['limit-minutes']), 120)) * 60_000;
if (DB === 'postgres' && process.env.DATABASE_URL && !process.env.BENCH_DATABASE_URL)
  process.env.BENCH_DATABASE_URL = process.env.DATABASE_URL;
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

function get(url: string, cookie: string, method = 'GET', body?: string, type?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.request(
      url,
      { method, agent, headers: { cookie, ...(type ? { 'content-type': type } : {}), accept: 'text/html' } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, ms: performance.now() - t }));
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const cookiesOf = (a: Answer) => (a.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);

/** Signs in through the login form (its pre-session CSRF token and cookie) and returns the session cookie. */
async function signIn(base: string, email: string, password: string): Promise<string> {
  const form = await get(`${base}/login`, '');
  const pre = cookiesOf(form).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1];
  if (!csrf) throw new Error('no CSRF token on the login form');
  const body = new URLSearchParams({ _csrf: csrf, email, password, next: '/' }).toString();
  const res = await get(`${base}/login`, pre, 'POST', body, 'application/x-www-form-urlencoded');
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${res.body.slice(0, 300)}`);
  return [...cookiesOf(res), pre].join('; ');
}

const store = await benchStore(DB);
const env = {
  ...store.env,
  SLUICE_SECRET_KEY: 'bench-console-secret-key-0123456789abcdef',
  SLUICE_RETENTION_INTERVAL_SECONDS: '0',
};
const server = await startServer(env, [], LIMIT_MS);
// One plain connection for the seed (no statement timeout, VACUUM allowed): to DATABASE_URL, or to the embedded
// server the running Sluice started (joined as one more member, released at the end).
const config = loadConfig(env);
const embedded = DB === 'embedded' ? await startEmbeddedServer({ dataDir: config.dataDir, osUser: config.embeddedDbUser }) : null;
const db = new pg.Client(embedded ? embedded.connection : { connectionString: store.env.DATABASE_URL });
await db.connect();
// Interrupted: stop the server and drop the schema or data dir all the same.
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    await db.end().catch(() => {});
    await embedded?.release().catch(() => false);
    await server.stop();
    await store.drop();
    agent.destroy();
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}
try {
  const base = server.base;
  const ws = (await api(base, 'POST', '/workspaces', { name: 'Console bench' })).id as string;
  await api(base, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['whsec_bench_console_secret'] });
  await api(base, 'PUT', `/workspaces/${ws}/connections/piano`, { aid: 'BenchAid01', privateKey: 'p'.repeat(40) });
  const endpointIds: string[] = [];
  for (const name of ['crm', 'billing']) {
    const ep = await api(base, 'POST', `/workspaces/${ws}/endpoints`, { url: `https://${name}.example.com/hooks`, description: name });
    if (!ep.id) throw new Error(`endpoint not created: ${JSON.stringify(ep)}`);
    endpointIds.push(ep.id as string);
  }
  const t0 = performance.now();
  const counts = await seedConsoleHistory(db, { workspaceId: ws, endpointIds, events: N, log });
  const seedSeconds = (performance.now() - t0) / 1000;
  const { rows: sizes } = await db.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('events')) AS size`);

  const email = `bench-${Date.now()}@example.test`;
  const password = 'bench console password';
  const made = await api(base, 'POST', '/users', { email, password, role: 'admin' });
  if (!made.user) throw new Error(`user not created: ${JSON.stringify(made)}`);
  const cookie = await signIn(base, email, password);

  const { rows: ids } = await db.query<{ event: string; customer: string; endpoint: string }>(
    `SELECT (SELECT id FROM events WHERE workspace_id = $1 ORDER BY id DESC LIMIT 1 OFFSET 500) AS event,
            (SELECT id FROM customers WHERE workspace_id = $1 ORDER BY id LIMIT 1 OFFSET 100) AS customer,
            $2::text AS endpoint`,
    [ws, endpointIds[0]],
  );
  const { event, customer, endpoint } = ids[0]!;
  const w = `/workspaces/${ws}`;
  const pages: [string, string][] = [
    ['overview (hour)', `${w}/overview?range=hour`],
    ['overview (day)', `${w}/overview?range=day`],
    ['overview (week)', `${w}/overview?range=week`],
    ['events list', `${w}/events`],
    ['events list, status=failed', `${w}/events?status=failed`],
    ['events list, type=invoice.paid', `${w}/events?type=invoice.paid`],
    ['event detail', `${w}/events/${event}`],
    ['customers list', `${w}/customers`],
    ['customers search', `${w}/customers?q=customer4242%40example.test`],
    ['customer detail', `${w}/customers/${customer}`],
    ['endpoints', `${w}/endpoints`],
    ['endpoint detail', `${w}/endpoints/${endpoint}`],
    ['messages', `${w}/messages`],
    ['settings', `${w}/settings`],
    ['troubleshooting', `${w}/troubleshooting`],
  ];

  // The first view of each overview range: the rollups of every completed hour it shows are computed then.
  const first: string[] = [];
  for (const [name, path] of pages.slice(0, 3)) {
    const a = await get(`${base}${path}`, cookie);
    first.push(`| ${name}, first view | ${a.status} | ${a.ms.toFixed(1)} ms |`);
  }

  const rows: string[] = [];
  for (const [name, path] of pages) {
    const probe = await get(`${base}${path}`, cookie);
    if (probe.status === 404) {
      rows.push(`| ${name} | not built | | | |`);
      continue;
    }
    if (probe.status !== 200) throw new Error(`${name} answered ${probe.status}: ${probe.body.slice(0, 300)}`);
    for (let i = 0; i < 2; i++) await get(`${base}${path}`, cookie); // warm the connection pool and plans
    const times: number[] = [];
    for (let i = 0; i < R; i++) {
      const a = await get(`${base}${path}`, cookie);
      if (a.status !== 200) throw new Error(`${name} answered ${a.status}`);
      times.push(a.ms);
    }
    times.sort((a, b) => a - b);
    rows.push(
      `| ${name} | ${pct(times, 50).toFixed(1)} | ${pct(times, 99).toFixed(1)} | ${times[times.length - 1]!.toFixed(1)} | ${(probe.body.length / 1024).toFixed(1)} KB |`,
    );
    log(rows[rows.length - 1]!);
  }

  const weight = assetWeight();
  const total = weight.reduce((a, x) => ({ bytes: a.bytes + x.bytes, gzip: a.gzip + x.gzipBytes }), { bytes: 0, gzip: 0 });
  const out = [
    `Console pages, ${DB === 'postgres' ? 'PostgreSQL' : 'embedded PostgreSQL'}, ${N.toLocaleString('en')} events in the workspace ` +
      `(events table ${sizes[0]!.size}; ${counts.customers.toLocaleString('en')} customers, ${counts.messages.toLocaleString('en')} messages, ` +
      `${counts.deliveries.toLocaleString('en')} deliveries, ${counts.attempts.toLocaleString('en')} attempts; seeded in ${seedSeconds.toFixed(0)} s), ` +
      `${R} sequential requests per page over one keep-alive loopback connection, time to the last byte:`,
    '',
    '| Page | p50 ms | p99 ms | max ms | HTML |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    'First view of each overview range after seeding (computes the hourly rollups of the hours it shows, once):',
    '',
    '| View | Status | Time |',
    '| --- | ---: | ---: |',
    ...first,
    '',
    `Asset weight: ${weight.map((a) => `${a.name} ${(a.bytes / 1024).toFixed(1)} KB (${(a.gzipBytes / 1024).toFixed(1)} KB gzip)`).join(', ')}; ` +
      `in all ${(total.bytes / 1024).toFixed(1)} KB, ${(total.gzip / 1024).toFixed(1)} KB gzip (a page without charts loads htmx, its SSE extension, console.js and console.css; the overview adds uPlot, its CSS and charts.js).`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await cleanup();
}
