// Deliveries whose attempt is still out when what they belong to changes: a workspace or an endpoint deleted,
// a customer erased. A slow receiver keeps the attempts in flight while the test acts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const SLOW_MS = 2500;
const SECRET = 'whsec_in_flight_test_secret';

describe('deliveries in flight', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  const lines: { level: number; msg: string; deliveryId?: string }[] = [];
  before(async () => {
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    app = await startTestApp({ log, config: { outboundAllow: LOOPBACK, outboundTimeoutMs: 10_000, endpointConcurrency: 3 } });
  });
  after(async () => {
    await app.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function slowSetup(name: string): Promise<{ ws: string; endpointId: string; receiver: Receiver }> {
    const receiver = await startReceiver((req) => ({ status: 200, body: `echo ${req.body}`, delayMs: SLOW_MS }));
    receivers.push(receiver);
    const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/hook` });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    for (let i = 0; i < 3; i++) {
      const res = await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: { n: i } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    await waitFor(async () => receiver.requests.length === 3, 'three deliveries in flight');
    return { ws, endpointId: ep.body.id as string, receiver };
  }

  /** Waits until every attempt sent to the receiver has ended in a log line (recorded or dropped), then reads them. */
  async function settled(from: number, sent: number): Promise<typeof lines> {
    return waitFor(async () => {
      const mine = lines.slice(from).filter((l) => l.deliveryId !== undefined);
      return mine.length >= sent ? mine : undefined;
    }, 'the attempts in flight to end');
  }

  for (const what of ['workspace', 'endpoint'] as const) {
    test(`deleting the ${what} while its deliveries are sent: the attempts are dropped quietly`, async () => {
      const { ws, endpointId, receiver } = await slowSetup(`delete-${what}`);
      const from = lines.length;
      const path = what === 'workspace' ? `/api/v1/workspaces/${ws}?confirm=${ws}` : `/api/v1/workspaces/${ws}/endpoints/${endpointId}`;
      const res = await app.api('DELETE', path);
      assert.ok(res.status === 200 || res.status === 204, JSON.stringify(res.body));
      const ended = await settled(from, receiver.requests.length);
      assert.deepEqual(
        ended.filter((l) => l.level >= 40),
        [],
        'no warning or error for an attempt whose delivery was deleted',
      );
      assert.ok(ended.every((l) => l.msg === 'delivery deleted while in flight; attempt not recorded'));
    });
  }

  test('a customer erased while a message about them is sent: the echoed answer is not kept', async () => {
    const { ws, receiver } = await slowSetup('erase-in-flight');
    await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
    const email = 'grace.hopper@example.com';
    const payload = stripeEvent('customer.created', { id: 'cus_grace', object: 'customer', email, name: 'Grace Hopper' });
    assert.equal((await postStripe(app.url, ws, payload, signStripe(payload, SECRET))).status, 200);
    // The receiver has the message (and will echo it back in 2.5 s) when the erasure runs.
    await waitFor(async () => receiver.requests.some((r) => r.body.includes(email)), 'a message about the customer in flight');
    const erased = await app.api('DELETE', `/api/v1/workspaces/${ws}/customers/cus_grace?erase=true`);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    await waitFor(async () => {
      const { rows } = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE workspace_id = $1 AND status = 'pending'`,
        [ws],
      );
      return rows[0]!.n === 0;
    }, 'every delivery finished');
    const { rows } = await app.db.query<{ excerpt: string | null }>(
      `SELECT a.response_excerpt AS excerpt FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.workspace_id = $1`,
      [ws],
    );
    assert.ok(rows.length >= 4, `the attempts are recorded (${rows.length})`);
    assert.deepEqual(
      rows.filter((r) => r.excerpt?.toLowerCase().includes(email) || r.excerpt?.includes('Grace Hopper')),
      [],
      'no attempt keeps the erased values',
    );
    assert.ok(
      rows.some((r) => r.excerpt?.startsWith('echo ')),
      'answers to messages the erasure did not change are kept',
    );
  });
});
