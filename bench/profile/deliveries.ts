// Deliveries alone: PROF_MESSAGES (2,500) custom events published to 4 paused endpoints on a local keep-alive
// receiver, then the endpoints resumed: deliveries/s first to last, CPU per delivery of Sluice and PostgreSQL.
// PROF_LOG=1 logs every statement (ALTER SYSTEM, reset at the end); PROF_KEEP=1 stops before resuming and keeps
// the database (delivprof). PROF_SOURCE=stripe: the messages are those of signed Stripe webhooks (their data read
// from the events' raw bodies) instead of custom events. Loopback only, bounded.
import pg from 'pg';
import { signedEvents, WEBHOOK_SECRET } from '../compare/events.js';
import { LoadClient } from '../compare/load.js';
import { startReceiver } from '../compare/sluice.js';
import { cpuMeter, cpuMs, profileDatabase, startSluice } from './common.js';

const db = await profileDatabase('delivprof');
const sluice = await startSluice(db, [], { SLUICE_OUTBOUND_ALLOW: '127.0.0.0/8' });
const receiver = await startReceiver();
const { arrivals, url: receiverUrl } = receiver;

const ws = (await sluice.api('POST', '/workspaces', { name: 'profile' })).id;
const endpoints = 4;
const messages = Number(process.env.PROF_MESSAGES ?? 2500);
const ids: string[] = [];
for (let e = 0; e < endpoints; e++) {
  const ep = await sluice.api('POST', `/workspaces/${ws}/endpoints`, { url: `${receiverUrl}/e${e}` });
  await sluice.api('PATCH', `/workspaces/${ws}/endpoints/${ep.id}`, { state: 'paused' });
  ids.push(ep.id);
}
let stripeDeliveries = 0;
if (process.env.PROF_SOURCE === 'stripe') {
  // The messages of signed Stripe webhooks: their data is the event's payload, kept in its raw body.
  await sluice.api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
  const client = new LoadClient(`${sluice.base}/webhooks/stripe/${ws}`, 16);
  await client.closedLoop(signedEvents(messages), 60_000);
  client.close();
  const q = new pg.Client(db.url);
  await q.connect();
  const until = performance.now() + 60_000;
  while (performance.now() < until) {
    const { rows } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE status = 'received'`);
    if (rows[0]!.n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // An event can make more than one message (its raw message, and the CRM's change messages).
  await new Promise((r) => setTimeout(r, 500));
  stripeDeliveries = (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries')).rows[0]!.n;
  await q.end();
} else {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < messages) {
        next++;
        await sluice.api('POST', `/workspaces/${ws}/events`, { type: 'bench.tick', data: { n: next } });
      }
    }),
  );
}
if (process.env.PROF_KEEP) {
  await sluice.stop();
  receiver.close();
  await db.admin.end();
  process.exit(0);
}
if (process.env.PROF_LOG) {
  await db.admin.query('ALTER SYSTEM SET log_min_duration_statement = 0');
  await db.admin.query('SELECT pg_reload_conf()');
}

const expected = stripeDeliveries || messages * endpoints;
const database = cpuMeter(db.backends());
const server0 = cpuMs(sluice.child.pid!).total;
const own0 = process.cpuUsage();
sluice.phase();
const t0 = performance.now();
for (const id of ids) await sluice.api('PATCH', `/workspaces/${ws}/endpoints/${id}`, { state: 'enabled' });
while (arrivals.length < expected && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
const wall = performance.now() - t0;
sluice.phase();
const span = arrivals.length > 1 ? arrivals[arrivals.length - 1]! - arrivals[0]! : 1;
const databaseMs = database();
const serverMs = cpuMs(sluice.child.pid!).total - server0;
const own = process.cpuUsage(own0);
const per = (cpu: number) => `${(cpu / wall).toFixed(2)} core, ${((cpu * 1000) / arrivals.length).toFixed(0)} µs/delivery`;
console.log(`delivered ${arrivals.length} of ${expected}, ${((arrivals.length / span) * 1000).toFixed(0)}/s first to last`);
console.log(`sluice ${per(serverMs)}; postgresql ${per(databaseMs)}; receiver ${((own.user + own.system) / 1000 / wall).toFixed(2)} core`);

if (process.env.PROF_LOG) {
  await db.admin.query('ALTER SYSTEM RESET log_min_duration_statement');
  await db.admin.query('SELECT pg_reload_conf()');
}
await sluice.stop();
receiver.close();
await db.drop();
