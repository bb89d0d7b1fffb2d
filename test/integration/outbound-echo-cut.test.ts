// A receiver that echoes its request shows a custom header value in its answer; the attempt log keeps the first
// 4 KiB of that answer with the value replaced by [header value]. When the 4 KiB cut fell inside the value, the part
// before the cut was not recognised as the value and was kept: most of a write-only credential, readable by anyone
// who may read deliveries. Likewise a value holding a quote or backslash, echoed in JSON (escaped).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const CREDENTIAL = 'Bearer sk_live_0123456789abcdefghijklmnopqrstuvwxyz';

describe('echoed header values in the attempt log', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, retrySchedule: [0] } });
  });
  after(async () => {
    await app.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function excerptOf(headers: Record<string, string>, answer: (req: { headers: Record<string, unknown> }) => string) {
    const r = await startReceiver((req) => ({ status: 200, body: answer(req as never) }));
    receivers.push(r);
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'echo-cut' })).body.id as string;
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: r.url, headers });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/events`, { type: 'course.enrolled', data: {} })).status, 201);
    const [delivery] = await waitFor(async () => {
      const list = (await app.api('GET', `/api/v1/workspaces/${ws}/endpoints/${ep.body.id}/deliveries`)).body.data;
      return list[0]?.status === 'succeeded' ? list : null;
    }, 'the echoed delivery');
    return (await app.api('GET', `/api/v1/workspaces/${ws}/deliveries/${delivery.id}`)).body.attemptLog[0].responseExcerpt as string;
  }

  test('a value cut by the 4 KiB limit is not kept in part', async () => {
    // The echo puts the credential across the 4,096th byte: its first 30 characters are inside the excerpt.
    const pad = 'x'.repeat(4096 - 30);
    const excerpt = await excerptOf({ authorization: CREDENTIAL }, (req) => `${pad}${String(req.headers.authorization)}`);
    assert.ok(!excerpt.includes(CREDENTIAL.slice(0, 30)), excerpt.slice(-60));
    assert.ok(!excerpt.includes('sk_live_0123'), excerpt.slice(-60));
    assert.ok(excerpt.startsWith(pad));
    assert.ok(excerpt.endsWith('[header value]'), excerpt.slice(-60));
  });

  test('a value with a quote or backslash, echoed as JSON, is replaced too', async () => {
    const value = 'token"with\\quote-0123456789';
    const excerpt = await excerptOf({ 'x-token': value }, (req) => JSON.stringify({ token: req.headers['x-token'] }));
    assert.equal(excerpt, '{"token":"[header value]"}');
  });
});
