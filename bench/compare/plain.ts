// The three reference systems (ceiling, naive handler, Stripe's sync engine): each started as its own child
// process on a free loopback port, warmed up, then loaded by 32 keep-alive senders.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startChild, waitReady } from './children.js';
import { signedEvents, WEBHOOK_SECRET } from './events.js';
import { LoadClient } from './load.js';
import { cpuMeter, peakRssMb, rssMb } from './memory.js';
import { adminQuery, freshDatabase } from './pg.js';
import type { SystemName, SystemResult } from './results.js';
import type { Settings } from './settings.js';

const server = (file: string) => fileURLToPath(new URL(`./servers/${file}`, import.meta.url));

const DEFS = {
  ceiling: { file: 'ceiling.ts', path: '/webhook', database: false },
  naive: { file: 'naive.ts', path: '/webhook', database: true },
  'sync-engine': { file: 'sync-engine.ts', path: '/webhooks', database: true },
} as const;

export async function runPlain(
  system: Extract<SystemName, keyof typeof DEFS>,
  s: Settings,
  log: (m: string) => void,
): Promise<SystemResult> {
  const def = DEFS[system];
  const loadavgBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const databaseUrl = def.database ? await freshDatabase(system.replace('-', '_')) : undefined;
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), WEBHOOK_SECRET, DATABASE_URL: databaseUrl };
  const child = startChild(system, ['--import', 'tsx', server(def.file)], env);
  const notes: string[] = [];
  try {
    await waitReady(child, `http://127.0.0.1:${port}/ready`, performance.now());
    const client = new LoadClient(`http://127.0.0.1:${port}${def.path}`, s.connections);
    let peak = rssMb(child.proc.pid!);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.proc.pid!))), 250);
    log(`${system}: warm-up ${s.warmup}`);
    await client.closedLoop(signedEvents(s.warmup), s.warmupSeconds * 1000);
    const events = signedEvents(s.events);
    log(`${system}: ${s.events} events, at most ${s.ingestSeconds} s, ${s.connections} connections`);
    const meter = cpuMeter(child.proc.pid!);
    const r = await client.closedLoop(events, s.ingestSeconds * 1000);
    const cpu = meter.stop();
    clearInterval(sampler);
    peak = Math.max(peak, peakRssMb(child.proc.pid!));

    let lag = null;
    if (system === 'sync-engine') {
      // It writes the rows before it answers, so its receipt → row time is the answer latency at that rate.
      log(`${system}: ${s.lagRate}/s offered for ${s.lagSeconds} s`);
      const paced = await client.atRate(signedEvents(Math.round(s.lagRate * s.lagSeconds)), s.lagRate, s.lagSeconds);
      lag = {
        offeredRate: s.lagRate,
        acceptedRate: paced.acked / paced.seconds,
        events: paced.sent + paced.skipped,
        measured: paced.acked,
        unprocessed: paced.sent - paced.acked,
        lowerBound: false,
        p50: paced.p50,
        p99: paced.p99,
        how: 'answer latency at that rate (rows are written before the 200)',
      };
    }
    client.close();

    let stored: number | null = null;
    if (system === 'naive') {
      stored = Number((await adminQuery('SELECT count(*) AS n FROM stripe_events', databaseUrl))[0].n);
    } else if (system === 'sync-engine') {
      stored = Number((await adminQuery('SELECT count(*) AS n FROM stripe.subscriptions', databaseUrl))[0].n);
      notes.push(`sync engine: ${stored} distinct subscriptions upserted (the load cycles through 1,000)`);
    }
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
        peak: { serverMb: peak, databaseMb: 0, databaseProcesses: 0, totalMb: peak },
        cpu,
        stored,
      },
      lag,
      sluice: null,
      notes,
    };
  } finally {
    await child.stop();
  }
}
