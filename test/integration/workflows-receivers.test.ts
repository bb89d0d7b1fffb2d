// Workflow http steps against receivers that answer what PostgreSQL cannot hold as jsonb, and other bad luck.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startReceiver, type Answer } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('workflow http steps and odd answers', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, workflowRetryBaseMs: 100 } });
  });
  after(async () => {
    await app.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
  const get = async (ws: string, path: string) => (await call('GET', ws, path)).body;

  /** Creates a workflow of `steps` on course.enrolled in `ws`, publishes one such event with `data`, and answers the
   *  run's detail once it has succeeded or failed. */
  async function settledRun(ws: string, name: string, steps: unknown[], data: unknown = {}): Promise<any> {
    const res = await call('POST', ws, '/workflows', { name, trigger: { type: 'course.enrolled' }, steps });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal((await call('POST', ws, '/events', { type: 'course.enrolled', data })).status, 201);
    const [run] = await waitFor(
      async () => {
        const r = (await get(ws, `/workflows/${res.body.id}/runs`)).data as any[];
        return r.length === 1 && ['succeeded', 'failed'].includes(r[0].status) ? r : null;
      },
      'run settled',
      30_000,
    );
    const detail = await get(ws, `/runs/${run.id}`);
    assert.equal(detail.id, run.id, 'the run, by its id (the tests read its rows with it)');
    return detail;
  }

  async function runOnce(
    name: string,
    answer: (n: number) => Answer,
    body: unknown = { a: 1 },
    o: { headers?: Record<string, string>; data?: unknown } = {},
  ) {
    const receiver = await startReceiver((_r, n) => answer(n));
    try {
      const ws = (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
      const detail = await settledRun(
        ws,
        name,
        [{ id: 'call', kind: 'http', url: `${receiver.url}/hook`, body, headers: o.headers, retry: { max: 2 } }],
        o.data ?? { course: 'c1' },
      );
      return { detail, requests: receiver.requests.length };
    } finally {
      await receiver.close();
    }
  }

  test("each http step waits its own timeoutMs for an answer (one sender serves every step's timeout)", async () => {
    const receiver = await startReceiver(() => 'hang');
    try {
      const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'timeouts' })).body.id as string;
      const step = (id: string, timeoutMs: number) => ({
        id,
        kind: 'http',
        url: `${receiver.url}/${id}`,
        body: {},
        timeoutMs,
        onError: 'continue',
        retry: { max: 0 },
      });
      const detail = await settledRun(ws, 'timeouts', [step('short', 300), step('longer', 1200)]);
      const errors = Object.fromEntries(detail.steps.map((s: any) => [s.stepId, s.attempts.map((a: any) => [a.error, a.durationMs])]));
      const [[shortError, shortMs]] = errors.short;
      const [[longError, longMs]] = errors.longer;
      assert.match(shortError, /no answer within 300 ms/, JSON.stringify(errors));
      assert.match(longError, /no answer within 1200 ms/, JSON.stringify(errors));
      assert.ok(shortMs < 1100 && longMs >= 1200, JSON.stringify(errors));
    } finally {
      await receiver.close();
    }
  });

  test('a JSON answer holding a \\u0000 escape: the step succeeds once, its output kept without the NUL', async () => {
    const { detail, requests } = await runOnce('nul', () => ({
      status: 200,
      body: '{"ok":"a\\u0000b"}',
      headers: { 'content-type': 'application/json' },
    }));
    assert.equal(detail.status, 'succeeded', JSON.stringify(detail));
    assert.equal(requests, 1, 'the request is not sent again');
    assert.deepEqual(detail.steps[0].output, { status: 200, body: { ok: 'a\uFFFDb' } });
  });

  test('a long text answer cut inside an emoji: the step succeeds once', async () => {
    const { detail, requests } = await runOnce('surrogate', () => ({ status: 200, body: 'x'.repeat(1999) + '😀'.repeat(10) }));
    assert.equal(detail.status, 'succeeded', JSON.stringify(detail));
    assert.equal(requests, 1, 'the request is not sent again');
    assert.equal(detail.steps[0].output.body, 'x'.repeat(1999));
  });

  test('an input an expression fills with a NUL fails at once, saying why, and sends nothing', async () => {
    const { detail, requests } = await runOnce('nul input', () => ({ status: 200 }), { x: "{{ 'a\\u0000b' }}" });
    assert.equal(detail.status, 'failed');
    assert.equal(requests, 0);
    assert.match(detail.steps[0].error, /cannot be stored: .*NUL/);
    assert.equal(detail.steps[0].attempts.length, 0);
  });

  test('a header a template fills with a line break fails at once, naming the header, and sends nothing', async () => {
    const { detail, requests } = await runOnce(
      'header break',
      () => ({ status: 200 }),
      { a: 1 },
      {
        headers: { 'x-course': '{{ event.course }}' },
        data: { course: 'a\r\nx-injected: 1' },
      },
    );
    assert.equal(detail.status, 'failed');
    assert.equal(requests, 0);
    assert.match(detail.steps[0].error, /header x-course: has a line break/);
    assert.equal(detail.steps[0].attempts.length, 0, 'not retried as if the receiver had not answered');
  });

  test('header names that cannot be sent are refused on save, each with its path', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'bad headers' })).body.id as string;
    const res = await call('POST', ws, '/workflows', {
      name: 'bad headers',
      trigger: { type: 'course.enrolled' },
      steps: [
        {
          id: 'call',
          kind: 'http',
          url: 'https://example.com/x',
          headers: { 'x bad': '1', 'Content-Length': '5', expect: '100-continue', 'x-ok': 'fine', 'x-line': 'a\nb' },
        },
      ],
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.deepEqual(res.body.error.problems.map((p: any) => p.path).sort(), [
      'steps[0].headers."Content-Length"',
      'steps[0].headers."x bad"',
      'steps[0].headers."x-line"',
      'steps[0].headers.expect',
    ]);
  });

  test("a secret that comes back altered (lowercased by a DNS error, percent-encoded, escaped) is not in the run's record", async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'altered secrets' })).body.id as string;
    const token = 'Tok_En "Mixed\\Case"/é+9';
    const host = 'HookHost-Q7vZ3Kp';
    assert.equal((await call('PUT', ws, '/secrets/TOKEN', { value: token })).status, 200);
    assert.equal((await call('PUT', ws, '/secrets/HOST', { value: host })).status, 200);
    // An echoing receiver: the path as it arrived (the URL parser encoded part of the secret), the header shouted,
    // lowercased and percent-encoded, and a JSON echo.
    const receiver = await startReceiver((req) => {
      const header = String(req.headers['x-token']);
      return {
        status: 500,
        body: [
          req.path,
          header.toUpperCase(),
          header.toLowerCase(),
          encodeURIComponent(header).toLowerCase(),
          JSON.stringify({ header }),
        ].join('\n'),
      };
    });
    try {
      const detail = await settledRun(ws, 'altered secrets', [
        // The secret in a host: a failed lookup names the host lowercased (ENOTFOUND in a DNS error).
        { id: 'dns', kind: 'http', url: 'http://{{ secrets.HOST }}.invalid/hook', body: {}, onError: 'continue', retry: { max: 0 } },
        {
          id: 'echo',
          kind: 'http',
          url: `${receiver.url}/hook/{{ secrets.TOKEN }}?t={{ secrets.TOKEN }}`,
          headers: { 'x-token': '{{ secrets.TOKEN }}' },
          body: {},
          retry: { max: 0 },
        },
      ]);
      assert.equal(receiver.requests.length, 1, 'the echo step was sent');
      assert.equal(receiver.requests[0]!.headers['x-token'], token);
      const [dns, echo] = detail.steps;
      const dnsError = String(dns.attempts[0]?.error);
      if (/ENOTFOUND/.test(dnsError)) assert.match(dnsError, /⟦secret:HOST⟧\.invalid/, dnsError);
      assert.match(echo.attempts[0].responseExcerpt, /⟦secret:TOKEN⟧/);
      const rows = await app.db.query(
        `SELECT r.error AS run_error, s.output, s.error, s.input, a.response_excerpt, a.error AS attempt_error
         FROM workflow_runs r JOIN workflow_steps s ON s.run_id = r.id LEFT JOIN workflow_step_attempts a ON a.step_row_id = s.id
         WHERE r.id = $1`,
        [detail.id],
      );
      const record = `${JSON.stringify(detail)}\n${JSON.stringify(rows.rows)}`;
      for (const value of [token, host]) {
        for (const form of [
          value,
          value.toLowerCase(),
          value.toUpperCase(),
          encodeURIComponent(value),
          encodeURIComponent(value).toLowerCase(),
          JSON.stringify(value).slice(1, -1),
        ]) {
          assert.ok(!record.toLowerCase().includes(form.toLowerCase()), `the run's record holds ${JSON.stringify(form)}`);
        }
      }
      assert.ok(!record.toLowerCase().includes('mixed\\case'), 'no part of the secret left in the path the receiver echoed');
    } finally {
      await receiver.close();
    }
  });

  test("a secret echoed across the answer's 4 KiB cut leaves no part of it in the run's record", async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'secret at the cut' })).body.id as string;
    const token = 'Cut-Secret-Q8vN2xLp7RtW4kZm';
    assert.equal((await call('PUT', ws, '/secrets/TOKEN', { value: token })).status, 200);
    // 1,360 three-byte characters (4,080 bytes), then the secret the receiver was sent: the 4,096-byte cut of the
    // answer falls 16 characters into it, and the whole excerpt (1,376 characters) is under the 2,000 kept.
    const receiver = await startReceiver((req) => ({
      status: 200,
      body: `${'€'.repeat(1360)}${String(req.headers['x-token'])} and more after it`,
    }));
    try {
      const detail = await settledRun(ws, 'secret at the cut', [
        {
          id: 'echo',
          kind: 'http',
          url: `${receiver.url}/hook`,
          headers: { 'x-token': '{{ secrets.TOKEN }}' },
          body: {},
          retry: { max: 0 },
        },
      ]);
      assert.equal(receiver.requests.length, 1);
      assert.equal(receiver.requests[0]!.headers['x-token'], token);
      const excerpt = String(detail.steps[0].attempts[0].responseExcerpt);
      assert.ok(excerpt.startsWith('€'.repeat(1360)), 'the answer up to the secret is kept');
      const rows = await app.db.query(
        `SELECT s.output, s.error, a.response_excerpt FROM workflow_steps s
         LEFT JOIN workflow_step_attempts a ON a.step_row_id = s.id WHERE s.run_id = $1`,
        [detail.id],
      );
      const record = `${JSON.stringify(detail)}\n${JSON.stringify(rows.rows)}`;
      assert.ok(!record.includes(token.slice(0, 6)), `the run's record holds the secret's beginning: …${excerpt.slice(1350)}`);
    } finally {
      await receiver.close();
    }
  });
  test("a secret that the 64 KiB read limit cuts through leaves no part of it in the run's record", async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'secret at the read limit' })).body.id as string;
    // 1,500 characters from letters found in no word of the record (no E, K, N, O, P, S, T, Z: not in TOKEN, HTTP,
    // POST, JSON), made by a fixed generator: any 4 of them in a row in the record can only come from the secret.
    const alphabet = 'ABCDFGHIJLMQRUVWXY';
    let seed = 7;
    const token = Array.from({ length: 1500 }, () => alphabet[(seed = (seed * 48271) % 2147483647) % alphabet.length]).join('');
    assert.equal((await call('PUT', ws, '/secrets/TOKEN', { value: token })).status, 200);
    const marker = '⟦secret:TOKEN⟧';
    // The answer: the secret 43 times (64,500 bytes, 43 markers once redacted), 1,026 dots, then the secret again from
    // byte 65,526, so the 64 KiB (65,536-byte) read limit falls 10 characters into it. The first 65,536 bytes are
    // written, then the rest a moment later: the sender reads them apart, wherever it stops reading.
    const head = `${token.repeat(43)}${'.'.repeat(1026)}`;
    assert.equal(head.length, 65_526);
    const rest = ' and more after it';
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const echoed = String(req.headers['x-token']);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': head.length + echoed.length + rest.length });
        res.write(head + echoed.slice(0, 10));
        setTimeout(() => res.end(echoed.slice(10) + rest), 200);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const detail = await settledRun(ws, 'secret at the read limit', [
        {
          id: 'echo',
          kind: 'http',
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
          headers: { 'x-token': '{{ secrets.TOKEN }}' },
          body: {},
          retry: { max: 0 },
        },
      ]);
      const excerpt = String(detail.steps[0].attempts[0].responseExcerpt);
      // Redacted, the 64 KiB read is under 2,000 characters: all of it is kept, its end included.
      assert.ok(excerpt.startsWith(`${marker.repeat(43)}${'.'.repeat(1026)}`), excerpt.slice(0, 100));
      assert.equal(detail.steps[0].output?.body, excerpt, 'the step output is the answer as kept');
      const rows = await app.db.query(
        `SELECT s.output, s.error, a.response_excerpt FROM workflow_steps s
         LEFT JOIN workflow_step_attempts a ON a.step_row_id = s.id WHERE s.run_id = $1`,
        [detail.id],
      );
      const record = `${JSON.stringify(detail)}\n${JSON.stringify(rows.rows)}`;
      const pieces = Array.from({ length: token.length - 3 }, (_, k) => token.slice(k, k + 4));
      const kept = pieces.filter((piece) => record.includes(piece));
      assert.deepEqual(kept, [], `the run's record holds part of the secret: …${excerpt.slice(-40)}`);
      // What the limit cut is hidden as the secret it begins.
      assert.equal(excerpt, `${marker.repeat(43)}${'.'.repeat(1026)}${marker}`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
