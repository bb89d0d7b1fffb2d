// Bad input under load (issue 10): signed 4.6 KB events from 32 keep-alive connections, first all valid, then with
// PROF_BAD (default 0.1) of the requests replaced by bad ones, in equal parts: a forged signature (another secret),
// a signature too old (replayed), no Stripe-Signature header, and a signed body that is not JSON. Prints, per phase,
// the valid events acknowledged per second and their answer latency, and what the bad ones were answered: the bad
// requests should cost the valid ones no more than their share (valid events/s with 10 % bad ≥ 0.9 × all valid).
// PROF_ROLE (default all), PROF_EVENTS (valid events per phase, default 20,000), PROF_ROUNDS (alternations, default
// 2). Loopback only, bounded.
import Stripe from 'stripe';
import { signedEvents, WEBHOOK_SECRET, type SignedEvent } from '../compare/events.js';
import { LoadClient, pct } from '../compare/load.js';
import { profileDatabase, startSluice } from './common.js';

const stripe = new Stripe('sk_test_unused');
const share = Number(process.env.PROF_BAD ?? 0.1);
const perPhase = Number(process.env.PROF_EVENTS ?? 20_000);
const rounds = Number(process.env.PROF_ROUNDS ?? 2);

type Kind = 'valid' | 'forged' | 'stale' | 'unsigned' | 'not-json';
const BAD: Kind[] = process.env.PROF_BAD_KINDS
  ? (process.env.PROF_BAD_KINDS.split(',') as Kind[])
  : ['forged', 'stale', 'unsigned', 'not-json'];

function spoil(e: SignedEvent, kind: Kind): SignedEvent {
  const payload = e.body.toString();
  switch (kind) {
    case 'forged':
      return { ...e, signature: stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_not_the_workspace_secret' }) };
    case 'stale':
      return {
        ...e,
        signature: stripe.webhooks.generateTestHeaderString({
          payload,
          secret: WEBHOOK_SECRET,
          timestamp: Math.floor(Date.now() / 1000) - 3600,
        }),
      };
    case 'unsigned':
      return { ...e, signature: '' };
    case 'not-json': {
      const body = `${payload.slice(0, -10)}<truncated`;
      return {
        id: e.id,
        body: Buffer.from(body),
        signature: stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }),
      };
    }
    default:
      return e;
  }
}

/** `valid` good events with bad ones mixed in so that they make `share` of the whole, spread evenly. */
function mix(valid: SignedEvent[], badShare: number): { e: SignedEvent; kind: Kind }[] {
  const out: { e: SignedEvent; kind: Kind }[] = [];
  let bad = 0;
  for (const e of valid) {
    out.push({ e, kind: 'valid' });
    // Keep bad / (valid + bad) at badShare as the list grows.
    while (badShare > 0 && bad < (badShare / (1 - badShare)) * (out.length - bad)) {
      const kind = BAD[bad % BAD.length]!;
      out.push({ e: spoil({ ...e, id: `${e.id}_bad${bad}` }, kind), kind });
      bad += 1;
    }
  }
  return out;
}

async function phase(client: LoadClient, list: { e: SignedEvent; kind: Kind }[]) {
  const latencies: number[] = [];
  const badLatencies: number[] = [];
  const badAnswers: Record<string, number> = {};
  let next = 0;
  let acked = 0;
  let validFailed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: client.connections }, async () => {
      while (next < list.length) {
        const { e, kind } = list[next++]!;
        const t = performance.now();
        const status = await client.post(e);
        if (kind === 'valid') {
          latencies.push(performance.now() - t);
          if (status >= 200 && status < 300) acked += 1;
          else validFailed += 1;
        } else {
          badLatencies.push(performance.now() - t);
          const key = `${kind} ${status || 'none'}`;
          badAnswers[key] = (badAnswers[key] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  badLatencies.sort((a, b) => a - b);
  return {
    badP50: pct(badLatencies, 50),
    badP99: pct(badLatencies, 99),
    validPerSecond: acked / seconds,
    requestsPerSecond: list.length / seconds,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    validFailed,
    badAnswers,
  };
}

const db = await profileDatabase('mixprof');
const sluice = await startSluice(db, ['--role', process.env.PROF_ROLE ?? 'all']);
const ws = (await sluice.api('POST', '/workspaces', { name: 'mixed' })).id;
await sluice.api('PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [WEBHOOK_SECRET] });
const client = new LoadClient(`${sluice.base}/webhooks/stripe/${ws}`, 32);
await client.closedLoop(signedEvents(2000), 10_000); // warm-up

let from = 100_000;
const fmt = (r: Awaited<ReturnType<typeof phase>>) =>
  `valid ${r.validPerSecond.toFixed(0)}/s (all requests ${r.requestsPerSecond.toFixed(0)}/s), valid p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms` +
  (r.validFailed ? `, ${r.validFailed} valid not acknowledged` : '') +
  (Number.isNaN(r.badP50) ? '' : `; bad answered p50 ${r.badP50.toFixed(1)} ms p99 ${r.badP99.toFixed(1)} ms`);
for (let round = 1; round <= rounds; round++) {
  const clean = await phase(client, mix(signedEvents(perPhase, from), 0));
  from += perPhase;
  const mixed = await phase(client, mix(signedEvents(perPhase, from), share));
  from += perPhase;
  console.log(`round ${round}: all valid: ${fmt(clean)}`);
  console.log(
    `round ${round}: ${(share * 100).toFixed(0)} % bad: ${fmt(mixed)}; valid/s ${(mixed.validPerSecond / clean.validPerSecond).toFixed(2)}× all-valid`,
  );
  console.log(`  bad answered: ${JSON.stringify(mixed.badAnswers)}`);
}
client.close();
await sluice.stop();
await db.drop();
