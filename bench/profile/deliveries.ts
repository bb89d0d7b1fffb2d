// Deliveries alone: PROF_MESSAGES (2,500) custom events published to 4 paused endpoints on a local keep-alive
// receiver, then the endpoints resumed: deliveries/s first to last, CPU per delivery of Sluice and PostgreSQL.
// PROF_LOG=1 logs every statement (ALTER SYSTEM, reset at the end); PROF_KEEP=1 stops before resuming and keeps
// the database (delivprof). Loopback only, bounded.
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
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < messages) {
      next++;
      await sluice.api('POST', `/workspaces/${ws}/events`, { type: 'bench.tick', data: { n: next } });
    }
  }),
);
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

const expected = messages * endpoints;
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
