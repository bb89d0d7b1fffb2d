// An attack on a real `sluice start` (compiled dist/, embedded database or PostgreSQL), bounded and loopback only:
//   1. N malformed requests spread over every route (NULs, bad encodings, oversize and deep bodies, wrong types);
//   2. S slowloris clients sending one byte every 5 s while /healthz is timed every 100 ms;
// then it reports 5xx answers, whether the process survived, how long slow clients were held, /healthz latency
// under the slow clients, and the server's RSS before and after.
//
//   npm run build && node --import tsx bench/attack.ts [--db embedded|postgres] [--requests 10000] [--slow 2000]
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { routesOf, type OpenApiPaths } from '../test/helpers/openapi-routes.js';
import { benchStore, createBenchWorkspace, pct, startServer, TOKEN, type BenchDb } from './lib.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'embedded' },
    requests: { type: 'string', default: '10000' },
    slow: { type: 'string', default: '2000' },
  },
});
const total = Number(values.requests);
const slowCount = Number(values.slow);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function routes(base: string): Promise<Array<[string, string]>> {
  return routesOf(JSON.parse(await send(base, 'GET', '/api/v1/openapi.json', undefined, {}, true)) as OpenApiPaths);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
function send(base: string, method: string, url: string, body?: string, headers?: Record<string, string>): Promise<number>;
function send(
  base: string,
  method: string,
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  text: true,
): Promise<string>;
function send(
  base: string,
  method: string,
  url: string,
  body?: string,
  headers: Record<string, string> = {},
  text = false,
): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.request(`${base}${url}`, { method, agent, headers: { authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => text && chunks.push(c));
      res.on('end', () => resolve(text ? Buffer.concat(chunks).toString() : (res.statusCode ?? 0)));
      res.on('error', () => resolve(-1));
    });
    req.setTimeout(30_000, () => req.destroy());
    // -1: the connection ended before an answer was read (e.g. a 413 sent and the socket closed while a 2 MiB
    // body was still being written); the server is checked to be alive separately.
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

const deep = (n: number) => `{"type":"x.y","data":{"x":${'['.repeat(n)}1${']'.repeat(n)}}}`;
const SEGMENTS = ['%00', 'a%00b', '%E0%A4%A', '%ED%A0%80', 'x'.repeat(5000), '%2e%2e%2f', '%F0%9F%92%A9', '-1', 'ws_' + '0'.repeat(24)];
const QUERIES = [
  'limit=%00',
  'limit=1e400',
  'since=99999-01-01',
  'since=%00',
  'type=%00',
  'q=%00',
  'cursor=%00',
  'status=%FF',
  'type[]=a&type[]=b',
  'data=%00',
];
const BODIES: Array<[string, string]> = [
  ['{"name":"a\\u0000b","url":"http://x\\u0000"}', 'application/json'],
  ['{"name":"\\ud800"}', 'application/json'],
  [deep(10_000), 'application/json'],
  ['[]', 'application/json'],
  ['{', 'application/json'],
  ['\u0000\u0001', 'application/json'],
  [JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }), 'application/json'],
  ['name=%00', 'application/x-www-form-urlencoded'],
  ['<xml/>', 'text/xml'],
  ['{"__proto__":{"admin":true},"constructor":{"prototype":{}}}', 'application/json'],
];

async function main() {
  const store = await benchStore(values.db as BenchDb);
  const server = await startServer(store.env, [], 600_000);
  const pid = server.proc.pid!;
  try {
    const ws = await createBenchWorkspace(server.base);
    for (let i = 0; i < 200; i++) await send(server.base, 'GET', `/api/v1/workspaces/${ws}/events`);
    const rssBefore = rssMb(pid);

    // 1. Malformed requests, round-robin over routes and variants, 16 at a time.
    const templates = await routes(server.base);
    const cases: Array<() => Promise<number>> = [];
    for (let i = 0; cases.length < total; i++) {
      const [method, template] = templates[i % templates.length]!;
      const k = Math.floor(i / templates.length);
      const withWs = template.replace(/:ws\b|:workspaceId\b/, ws);
      const variant = k % 3;
      if (variant === 0) {
        const seg = SEGMENTS[k % SEGMENTS.length]!;
        cases.push(() => send(server.base, method, (k % 2 ? template : withWs).replace(/:[A-Za-z]+/g, seg)));
      } else if (variant === 1 || method === 'GET') {
        const q = QUERIES[k % QUERIES.length]!;
        cases.push(() => send(server.base, method, `${withWs.replace(/:[A-Za-z]+/g, 'x_1')}?${q}`));
      } else {
        const [body, type] = BODIES[k % BODIES.length]!;
        cases.push(() => send(server.base, method, withWs.replace(/:[A-Za-z]+/g, 'x_1'), body, { 'content-type': type }));
      }
    }
    const statuses = new Map<number, number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < cases.length) {
          const s = await cases[next++]!();
          statuses.set(s, (statuses.get(s) ?? 0) + 1);
        }
      }),
    );
    const malformedSeconds = (performance.now() - started) / 1000;
    const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);

    // 2. Slowloris: S sockets trickling header bytes; /healthz timed meanwhile.
    const port = Number(new URL(server.base).port);
    const lifetimes: number[] = [];
    const sockets = Array.from({ length: slowCount }, () => {
      const s = net.connect(port, '127.0.0.1');
      const opened = Date.now();
      s.on('error', () => {});
      // Read what the server sends (its 408), or the close would only be noticed at the next write.
      s.on('data', () => {});
      s.on('close', () => lifetimes.push(Date.now() - opened));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      return s;
    });
    const trickle = setInterval(() => sockets.forEach((s) => s.destroyed || s.write('X')), 5000);
    const health: number[] = [];
    const healthFailures: number[] = [];
    const until = Date.now() + 20_000;
    while (Date.now() < until && lifetimes.length < slowCount) {
      const t = performance.now();
      const s = await send(server.base, 'GET', '/healthz');
      (s === 200 ? health : healthFailures).push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(trickle);
    const stillOpen = sockets.filter((s) => !s.destroyed).length;
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => setTimeout(r, 2000));
    const alive = (await send(server.base, 'GET', '/healthz')) === 200 && server.proc.exitCode === null;
    const rssAfter = rssMb(pid);
    health.sort((a, b) => a - b);
    lifetimes.sort((a, b) => a - b);
    console.log(
      JSON.stringify(
        {
          db: values.db,
          malformed: { requests: cases.length, seconds: +malformedSeconds.toFixed(1), statuses: Object.fromEntries(statuses), fivexx },
          slowloris: {
            clients: slowCount,
            cutOff: slowCount - stillOpen,
            heldMsP50: lifetimes.length ? Math.round(pct(lifetimes, 50)) : null,
            heldMsMax: lifetimes.length ? Math.round(lifetimes[lifetimes.length - 1]!) : null,
            healthzOk: health.length,
            healthzFailed: healthFailures.length,
            healthzMsP50: health.length ? +pct(health, 50).toFixed(1) : null,
            healthzMsP99: health.length ? +pct(health, 99).toFixed(1) : null,
          },
          alive,
          rssMb: {
            before: Math.round(rssBefore),
            after: Math.round(rssAfter),
            change: `${(((rssAfter - rssBefore) / rssBefore) * 100).toFixed(1)}%`,
          },
        },
        null,
        2,
      ),
    );
    if (fivexx > 0 || !alive) process.exitCode = 1;
  } finally {
    await server.stop();
    await store.drop();
  }
}

await main();
