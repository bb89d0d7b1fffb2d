// Outbound delivery to E endpoints on a local keep-alive receiver that answers 200 at once:
//   1. backlog: M custom events stored by an api-only instance fan out to E endpoints, then an instance with a
//      sender drains them: deliveries/s from first to last receipt;
//   2. steady: events published at a fixed rate for D seconds: time from a message's creation to its first
//      attempt at the receiver (p50/p95/p99).
// Also the server's peak RSS, on PGlite and PostgreSQL. With --blackhole B, B more endpoints point at a TCP
// server that accepts and never answers (each of their attempts holds its slots until the send timeout): the
// other endpoints' figures, compared with a run without it, show what a dead receiver costs the live ones.
// Loopback only, bounded in count and time.
//   npm run build && node --import tsx bench/outbound.ts [--db embedded|postgres|both] [--messages M] [--endpoints E] [--seconds D]
//     [--blackhole B] [--rate R: steady messages/s, instead of half the drain rate over the endpoints]
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { agent, api, benchStore, pct, peakRssMb, request, startServer, TOKEN, type BenchDb } from './lib.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'both' },
    messages: { type: 'string', default: '2000' },
    endpoints: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '15' },
    blackhole: { type: 'string', default: '0' },
    rate: { type: 'string' },
  },
});
if (values.rate !== undefined && !(Number(values.rate) > 0))
  throw new Error(`--rate must be a number of messages/s above 0, not ${values.rate}`);
const SECONDS = Math.min(Number(values.seconds), 120);
const M = Math.min(Number(values.messages), 20_000);
const E = Math.min(Number(values.endpoints), 50);
const B = Math.min(Number(values.blackhole), 10);

/** Accepts connections and reads requests, never answers. */
async function startBlackhole() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function startReceiver() {
  const arrivals: { at: number; createdAt: number }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      arrivals.push({ at: Date.now(), createdAt: Date.parse((JSON.parse(body) as { timestamp: string }).timestamp) });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    arrivals,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

const publish = async (base: string, ws: string, i: number) => {
  const res = await request(`${base}/api/v1/workspaces/${ws}/events`, 'POST', JSON.stringify({ type: 'bench.tick', data: { i } }), {
    authorization: `Bearer ${TOKEN}`,
  });
  if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${res.body}`);
};

async function waitArrivals(arrivals: unknown[], n: number, limitMs: number) {
  const deadline = Date.now() + limitMs;
  while (arrivals.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function run(db: BenchDb) {
  const receiver = await startReceiver();
  const blackhole = await startBlackhole();
  const store = await benchStore(db);
  const env = { ...store.env, SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8' };
  try {
    // 1. Backlog: M messages stored by an api-only instance, then drained by an instance with a sender.
    const apiOnly = await startServer(env, ['--role', 'api']);
    const ws = (await api(apiOnly.base, 'POST', '/workspaces', { name: 'bench' })).id as string;
    for (let e = 0; e < E; e++) await api(apiOnly.base, 'POST', `/workspaces/${ws}/endpoints`, { url: `${receiver.url}/e${e}` });
    for (let b = 0; b < B; b++) await api(apiOnly.base, 'POST', `/workspaces/${ws}/endpoints`, { url: `${blackhole.url}/b${b}` });
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < M) await publish(apiOnly.base, ws, next++);
      }),
    );
    await apiOnly.stop();
    const server = await startServer(env);
    try {
      await waitArrivals(receiver.arrivals, M * E, 240_000);
      const stamps = receiver.arrivals.map((a) => a.at).sort((a, b) => a - b);
      const drained = receiver.arrivals.length;
      const perSecond = Math.round((drained - 1) / ((stamps[stamps.length - 1]! - stamps[0]!) / 1000));

      // 2. Steady: messages published at a fixed rate (half the drain rate, spread over the endpoints) for
      //    SECONDS: time from a message's creation to its attempt at the receiver.
      receiver.arrivals.length = 0;
      const rate = values.rate ? Math.min(Number(values.rate), 5_000) : Math.max(5, Math.floor(perSecond / E / 2));
      const count = rate * SECONDS;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const wait = t0 + (i * 1000) / rate - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          await publish(server.base, ws, i);
        }),
      );
      await waitArrivals(receiver.arrivals, count * E, 120_000);
      const delays = receiver.arrivals.map((a) => a.at - a.createdAt).sort((a, b) => a - b);
      return {
        db,
        endpoints: E,
        blackholed: B,
        'backlog deliveries': drained,
        'deliveries/s': perSecond,
        'steady msgs/s': rate,
        'steady deliveries': delays.length,
        'create→attempt p50 ms': pct(delays, 50),
        'p95 ms': pct(delays, 95),
        'p99 ms': pct(delays, 99),
        'max ms': delays[delays.length - 1],
        'peak RSS MB': Math.round(peakRssMb(server.proc.pid!)),
        missing: M * E - drained + (count * E - delays.length),
      };
    } finally {
      await server.stop();
    }
  } finally {
    await store.drop();
    receiver.close();
    blackhole.close();
  }
}

const dbs = values.db === 'both' ? (['embedded', 'postgres'] as const) : [values.db as BenchDb];
const rows = [];
for (const db of dbs) rows.push(await run(db));
console.table(rows);
agent.destroy();
