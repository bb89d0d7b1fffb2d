// Sluice as a user runs it: `node bin/sluice.js start` (with npm start's node flags) from the compiled dist/, on a fresh database of the local
// PostgreSQL (DATABASE_URL) or embedded (no DATABASE_URL, a fresh SLUICE_DATA_DIR: the `npm start` way). Measured:
// first start to /readyz, idle memory, ingest under 32 connections, projection throughput on the backlog that
// ingest left, receipt → CRM row lag at a fixed offered rate, and signed deliveries/s to a local receiver.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, npmStartNodeFlags, onCleanup, removeDirOnCleanup, sleep, startChild, waitReady, type Child } from './children.js';
import { signedEvents, WEBHOOK_SECRET } from './events.js';
import { LoadClient, pct } from './load.js';
import { cpuMeter, footprint, peakRssMb, relatedPids, sampleFootprint } from './memory.js';
import { freshDatabase, serverVersion } from './pg.js';
import type { LagFigures, SluiceFigures, SystemResult } from './results.js';
import type { Settings } from './settings.js';

const TOKEN = `bench_admin_${randomBytes(12).toString('hex')}`;

function apiClient(base: string) {
  return async (method: string, p: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    const json = (await res.json()) as any;
    if (res.status >= 300) throw new Error(`${method} ${p} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
}
type Api = ReturnType<typeof apiClient>;

async function stripeWorkspace(api: Api, name: string): Promise<string> {
  const ws = (await api('POST', '/workspaces', { name })).id as string;
  await api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
  return ws;
}

/** Events of the workspace by outcome (the health view counts them per status; `received` is still pending). */
async function projectedCount(api: Api, ws: string): Promise<{ stored: number; done: number; failed: number }> {
  const c = (await api('GET', `/workspaces/${ws}/health`)).providers.stripe.counts;
  const done = c.processed + c.failed + c.ignored;
  return { stored: c.received + done, done, failed: c.failed };
}

/** True while the workspace has stored events still waiting to be processed: one index probe (the list's
 *  (workspace, provider, status, id) range, first row), cheap enough to ask ten times a second. */
async function anyWaiting(api: Api, ws: string): Promise<boolean> {
  const page: any = await api('GET', `/workspaces/${ws}/events?provider=stripe&status=received&limit=1`);
  return page.data.length > 0;
}

/**
 * Waits until the workspace has no waiting event or the limit; returns the rate over the time it took. The
 * counts come from the health view, once before and once after: counting the workspace's events on every look
 * (about 0.4 s of database time per look at a backlog of 20,000) competed with the workers it was measuring.
 */
async function drain(api: Api, ws: string, expected: number, limitSeconds: number) {
  const t0 = performance.now();
  const first = await projectedCount(api, ws);
  let tLast = performance.now();
  if (first.done < expected) {
    while (performance.now() - t0 < limitSeconds * 1000) {
      await sleep(100);
      const waiting = await anyWaiting(api, ws);
      tLast = performance.now();
      if (!waiting) break;
    }
  }
  const last = await projectedCount(api, ws);
  const seconds = (tLast - t0) / 1000;
  return {
    backlog: expected - first.done,
    projected: last.done - first.done,
    seconds,
    drained: last.done >= expected,
    failed: last.failed,
    perSecond: seconds > 0 ? (last.done - first.done) / seconds : null,
  };
}

async function listEvents(api: Api, ws: string) {
  const out: { providerEventId: string; receivedAt: string; processedAt: string | null }[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await api('GET', `/workspaces/${ws}/events?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** A keep-alive receiver answering 200 at once; counts arrivals and those without a Standard Webhooks signature. */
export async function startReceiver() {
  const arrivals: number[] = [];
  let unsigned = 0;
  const server = http.createServer((req, res) => {
    if (!req.headers['webhook-signature']) unsigned += 1;
    req.resume();
    req.on('end', () => {
      arrivals.push(performance.now());
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = () => {
    server.closeAllConnections();
    server.close();
  };
  onCleanup(close);
  return { arrivals, unsigned: () => unsigned, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

/** The PostgreSQL major version of an embedded data dir (its PG_VERSION file), found a few levels down. */
function embeddedVersion(dir: string, depth = 3): string | null {
  const f = path.join(dir, 'PG_VERSION');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  if (depth === 0) return null;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    try {
      const v = embeddedVersion(path.join(dir, e.name), depth - 1);
      if (v) return v;
    } catch {
      // a directory of the database user only
    }
  }
  return null;
}

export async function runSluice(db: 'postgres' | 'embedded', s: Settings, log: (m: string) => void): Promise<SystemResult> {
  const system = db === 'postgres' ? 'sluice-postgres' : 'sluice-embedded';
  const loadavgBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-compare-'));
  removeDirOnCleanup(dataDir);
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: undefined,
    SLUICE_DATA_DIR: dataDir,
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8',
  };
  if (db === 'postgres') env.DATABASE_URL = await freshDatabase('sluice');
  const notes: string[] = [];
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child: Child = startChild(system, [...npmStartNodeFlags(), 'bin/sluice.js', 'start', '--port', String(port)], env);
  try {
    const readyMs = await waitReady(child, `${base}/readyz`, started);
    const pid = child.proc.pid!;
    const api = apiClient(base);
    const database =
      db === 'postgres' ? `PostgreSQL ${await serverVersion()} (local server)` : describeEmbedded(dataDir, footprint(pid, dataDir));

    // Ingest
    const ws = await stripeWorkspace(api, 'bench ingest');
    await sleep(3_000);
    const idle = footprint(pid, dataDir);
    const client = new LoadClient(`${base}/webhooks/stripe/${ws}`, s.connections);
    // Memory under load is sampled from the warm-up on (it is load too).
    const sampler = sampleFootprint(pid, dataDir);
    log(`${system}: warm-up ${s.warmup}`);
    const warm = await client.closedLoop(signedEvents(s.warmup), s.warmupSeconds * 1000);
    const events = signedEvents(s.events);
    log(`${system}: ${s.events} events, at most ${s.ingestSeconds} s, ${s.connections} connections`);
    const meter = cpuMeter(pid, dataDir);
    const r = await client.closedLoop(events, s.ingestSeconds * 1000);
    const cpu = meter.stop();
    const peak = sampler.stop();
    client.close();
    const ingestPeakHwm = peakRssMb(pid);
    const stored = (await projectedCount(api, ws)).stored;
    notes.push(`${system}: Sluice process peak RSS over its life (VmHWM) ${Math.round(ingestPeakHwm)} MB after ingest`);

    // Projection: the backlog ingest left, drained by the default workers.
    log(`${system}: projecting the backlog (at most ${s.drainSeconds} s)`);
    const proj = await drain(api, ws, warm.acked + r.acked, s.drainSeconds);
    const projection = {
      perSecond: proj.backlog >= 200 ? proj.perSecond : null,
      backlog: proj.backlog,
      failed: proj.failed,
      seconds: proj.seconds,
      drained: proj.drained,
    };
    if (proj.backlog < 200)
      notes.push(`${system}: projection kept up with ingest (backlog ${proj.backlog}), so its own rate was not measurable`);
    if (!proj.drained) notes.push(`${system}: the projection backlog was not drained within ${s.drainSeconds} s`);

    // Lag at a fixed offered rate, on a fresh workspace so only these events are listed.
    const lagWs = await stripeWorkspace(api, 'bench lag');
    const lagClient = new LoadClient(`${base}/webhooks/stripe/${lagWs}`, s.connections);
    log(`${system}: ${s.lagRate}/s offered for ${s.lagSeconds} s`);
    const paced = await lagClient.atRate(signedEvents(Math.round(s.lagRate * s.lagSeconds)), s.lagRate, s.lagSeconds);
    lagClient.close();
    await drain(api, lagWs, paced.acked, s.drainSeconds);
    const listed = await listEvents(api, lagWs);
    // An event still unprocessed when listed counts with its age so far: then the percentiles are lower bounds.
    const listedAt = Date.now();
    const lags = listed.map((e) => (e.processedAt ? Date.parse(e.processedAt) : listedAt) - Date.parse(e.receivedAt)).sort((a, b) => a - b);
    const unprocessed = listed.filter((e) => !e.processedAt).length;
    const lag: LagFigures = {
      offeredRate: s.lagRate,
      acceptedRate: paced.acked / paced.seconds,
      events: paced.sent + paced.skipped,
      measured: lags.length,
      unprocessed,
      lowerBound: unprocessed > 0,
      p50: pct(lags, 50),
      p99: pct(lags, 99),
      how: 'processed_at − received_at of every event accepted in the phase (events API)',
    };

    // Deliveries: endpoints paused while messages are published (their deliveries are created and wait), then
    // resumed together, so the sender drains a backlog and the rate is the sender's, not the publisher's. A first,
    // smaller round is delivered the same way and not counted: as with ingest's warm-up, the measured round then
    // runs code V8 has compiled (cold, a 10,000-delivery round spent about a quarter of Sluice's CPU compiling).
    const receiver = await startReceiver();
    const outWs = (await api('POST', '/workspaces', { name: 'bench outbound' })).id as string;
    const endpointIds: string[] = [];
    for (let e = 0; e < s.endpoints; e++) {
      const ep = await api('POST', `/workspaces/${outWs}/endpoints`, { url: `${receiver.url}/e${e}` });
      endpointIds.push(ep.id as string);
    }
    let next = 0;
    const round = async (messages: number, what: string) => {
      for (const id of endpointIds) await api('PATCH', `/workspaces/${outWs}/endpoints/${id}`, { state: 'paused' });
      receiver.arrivals.length = 0;
      log(`${system}: publishing ${messages} messages to ${s.endpoints} paused endpoints (${what}, at most ${s.publishSeconds} s)`);
      let published = 0;
      const last = next + messages;
      const publishUntil = performance.now() + s.publishSeconds * 1000;
      await Promise.all(
        Array.from({ length: s.connections }, async () => {
          while (next < last && performance.now() < publishUntil) {
            next += 1;
            await api('POST', `/workspaces/${outWs}/events`, { type: 'bench.tick', data: { n: next } });
            published += 1;
          }
        }),
      );
      const expected = published * s.endpoints;
      log(`${system}: resuming endpoints, ${expected} deliveries (${what}, at most ${s.deliverySeconds} s)`);
      for (const id of endpointIds) await api('PATCH', `/workspaces/${outWs}/endpoints/${id}`, { state: 'enabled' });
      const t0 = performance.now();
      while (receiver.arrivals.length < expected && performance.now() - t0 < s.deliverySeconds * 1000) await sleep(50);
      return { published, expected, arrivals: [...receiver.arrivals] };
    };
    const warmRound = await round(s.deliveryWarmup, 'warm-up');
    if (warmRound.arrivals.length < warmRound.expected)
      notes.push(
        `${system}: ${warmRound.expected - warmRound.arrivals.length} warm-up deliveries had not arrived after ${s.deliverySeconds} s`,
      );
    await sleep(500); // the warm-up's last attempts recorded before the next round is published
    const measured = await round(s.messages, 'measured');
    const { published, expected, arrivals: a } = measured;
    const deliveries = {
      perSecond: a.length > 1 ? (a.length - 1) / ((a[a.length - 1]! - a[0]!) / 1000) : null,
      expected,
      delivered: a.length,
      unsigned: receiver.unsigned(),
      published,
      warmup: warmRound.expected,
    };
    receiver.close();
    if (deliveries.delivered < expected)
      notes.push(`${system}: ${expected - deliveries.delivered} deliveries had not arrived after ${s.deliverySeconds} s`);

    const sluice: SluiceFigures = { readyMs, idle, database, projection, deliveries };
    return {
      system,
      loadavgBefore,
      ingest: {
        perSecond: r.perSecond,
        p50: r.p50,
        p99: r.p99,
        acked: r.acked,
        sent: r.sent,
        non2xx: r.non2xx,
        failed: r.failed,
        statuses: r.statuses,
        seconds: r.seconds,
        peak,
        cpu,
        stored,
      },
      lag,
      sluice,
      notes,
    };
  } catch (err) {
    throw new Error(`${system}: ${(err as Error).message}\n--- its output ---\n${child.tail()}`);
  } finally {
    await stopWithDatabase(child, dataDir, notes);
  }
}

/** Stops Sluice; a database process it leaves running (outside its process group too) is reported and killed. */
async function stopWithDatabase(child: Child, dataDir: string, notes: string[]) {
  const related = child.proc.pid ? [...relatedPids(child.proc.pid, dataDir)] : [];
  await child.stop();
  await sleep(500);
  const left = related.filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  });
  if (left.length === 0) return;
  notes.push(`${child.name}: ${left.length} of its database processes were still running after it stopped; killed`);
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

function describeEmbedded(dataDir: string, f: { databaseProcesses: number }): string {
  const version = embeddedVersion(dataDir);
  const kind = f.databaseProcesses > 0 ? `server processes: ${f.databaseProcesses}` : 'in-process (PGlite)';
  return `embedded PostgreSQL ${version ?? '?'}, ${kind}`;
}
