// Malformed requests are answered 400 (or another fitting 4xx) with a stable code of ours and every problem
// listed, before any service runs; nothing is changed, and no Fastify-internal code reaches the caller.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { routesOf } from '../helpers/openapi-routes.js';

/** A request sent as raw bytes: fetch would refuse or fix much of what is tested here. */
function raw(app: TestApp, method: string, path: string, headers: Record<string, string>, body?: string | Buffer) {
  const { port } = new URL(app.url);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('API input validation', () => {
  let app: TestApp;
  let ws: string;
  let auth: Record<string, string>;
  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'validation' })).body.id;
    auth = { authorization: `Bearer ${app.adminToken}` };
  });
  after(() => app.close());

  test('every problem of a body is listed with its path, and nothing is created', async () => {
    const before = (await app.api('GET', '/api/v1/workspaces?limit=500')).body.data.length;
    const res = await app.api('POST', '/api/v1/workspaces', { name: 5, demo: 'yes', colour: 'blue' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    const problems = res.body.error.problems as { path: string; message: string }[];
    assert.deepEqual(problems.map((p) => p.path).sort(), ['/body/colour', '/body/demo', '/body/name']);
    assert.equal(problems.find((p) => p.path === '/body/colour')?.message, 'is not a known field');
    assert.ok(['colour', 'demo', 'name'].includes(res.body.error.field), 'the first field is named, as service errors do');
    assert.match(res.body.error.message, /\/body\/name must be string/);
    const missing = await app.api('POST', '/api/v1/workspaces', {});
    assert.deepEqual(missing.body.error.problems, [{ path: '/body/name', message: 'is required' }]);
    assert.equal((await app.api('GET', '/api/v1/workspaces?limit=500')).body.data.length, before);
  });

  test('a NUL in a body field, a path segment or a query parameter is a 400 naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/v1/workspaces', { name: 'a\u0000b' }, '/body/name'],
      ['POST', `/api/v1/workspaces/${ws}/endpoints`, { url: 'https://example.com', description: 'x\u0000' }, '/body/description'],
      ['GET', `/api/v1/workspaces/${ws}/events?type=%00`, undefined, '/querystring/type'],
      ['GET', `/api/v1/workspaces/${ws}/customers?q=%00`, undefined, '/querystring/q'],
      ['GET', `/api/v1/workspaces/${ws}/customers/cus_%00`, undefined, '/params/id'],
      ['GET', `/api/v1/workspaces/${ws}/events/ev_%00`, undefined, '/params/id'],
      ['POST', '/webhooks/stripe/%00', undefined, '/params/workspaceId'],
      ['GET', `/webhooks/piano/${ws}?data=%00`, undefined, '/querystring/data'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await app.api(method, path, body);
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED', path);
      assert.ok(
        (res.body.error.problems as { path: string }[]).some((p) => p.path === field),
        `${path}: ${JSON.stringify(res.body.error.problems)}`,
      );
    }
    const nul = await app.api('POST', '/api/v1/workspaces', { name: 'a\u0000b' });
    assert.match(nul.body.error.problems[0].message, /NUL/);
  });

  test('limits, times, enums and ids are checked by shape', async () => {
    const expectations: [string, string, RegExp][] = [
      [`/api/v1/workspaces/${ws}/events?limit=ten`, '/querystring/limit', /whole number from 1 to 500/],
      [`/api/v1/workspaces/${ws}/messages?since=99999-01-01`, '/querystring/since', /ISO 8601/],
      [`/api/v1/workspaces/${ws}/events?status=done`, '/querystring/status', /one of received, processed, ignored, failed/],
      [`/api/v1/workspaces/${ws}/payments?kind=cash`, '/querystring/kind', /one of/],
      [`/api/v1/workspaces/${ws}/events?cursor=abc`, '/querystring/cursor', /nextCursor/],
      [`/api/v1/workspaces/${ws}/events?colour=blue`, '/querystring/colour', /not a known field/],
      ['/api/v1/workspaces/WS_1', '/params/ws', /ws_/],
      [`/api/v1/workspaces/${ws}/deliveries/ep_1`, '/params/id', /dlv_/],
    ];
    for (const [path, field, message] of expectations) {
      const res = await app.api('GET', path);
      assert.equal(res.status, 400, path);
      const problem = (res.body.error.problems as { path: string; message: string }[]).find((p) => p.path === field);
      assert.ok(problem, `${path}: ${JSON.stringify(res.body.error)}`);
      assert.match(problem.message, message, path);
    }
    // Well-formed but unknown ids are still a 404 from the service, not a shape error.
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/events/ev_nope`)).status, 404);
    // The service's own domain checks still run behind the schema (the CLI calls them directly).
    const secret = await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: ['sk_not_a_whsec'] });
    assert.equal(secret.status, 400);
    assert.match(secret.body.error.message, /whsec_/);
  });

  test('a list of REST Hooks shows each subscription', async () => {
    const hookWs = (await app.api('POST', '/api/v1/workspaces', { name: 'hooks list' })).body.id;
    const empty = await app.api('GET', `/api/v1/workspaces/${hookWs}/hooks`);
    assert.deepEqual(empty.body, { data: [], nextCursor: null });
    const created = await app.api('POST', `/api/v1/workspaces/${hookWs}/hooks`, {
      targetUrl: 'https://hooks.example.com/zap',
      event: 'course.enrolled',
    });
    assert.equal(created.status, 201);
    await app.api('POST', `/api/v1/workspaces/${hookWs}/endpoints`, { url: 'https://example.com/not-a-hook' });
    const list = await app.api('GET', `/api/v1/workspaces/${hookWs}/hooks`);
    assert.deepEqual(list.body, {
      data: [{ id: created.body.id, targetUrl: 'https://hooks.example.com/zap', event: 'course.enrolled' }],
      nextCursor: null,
    });
  });

  test("malformed requests of every kind get a stable code of ours, never Fastify's", async () => {
    const json = { ...auth, 'content-type': 'application/json' };
    const big = Buffer.alloc(1024 * 1024 + 10, 'a');
    const cases: { name: string; send: () => Promise<{ status: number; text: string }>; status: number; code: string }[] = [
      { name: 'bad JSON', send: () => raw(app, 'POST', '/api/v1/workspaces', json, '{"name":'), status: 400, code: 'INVALID_JSON' },
      { name: 'empty JSON body', send: () => raw(app, 'POST', '/api/v1/workspaces', json, ''), status: 400, code: 'INVALID_JSON' },
      {
        name: 'prototype poisoning',
        send: () => raw(app, 'POST', '/api/v1/workspaces', json, '{"name":"x","__proto__":{"a":1}}'),
        status: 400,
        code: 'INVALID_JSON',
      },
      {
        name: 'unsupported media type',
        send: () => raw(app, 'POST', '/api/v1/workspaces', { ...auth, 'content-type': 'text/xml' }, '<a/>'),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      { name: 'body too large', send: () => raw(app, 'POST', '/api/v1/workspaces', json, big), status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { name: 'bad URL encoding', send: () => raw(app, 'GET', '/api/v1/workspaces/%E0%A4%A', auth), status: 400, code: 'BAD_URL' },
      { name: 'bad URL encoding (webhook)', send: () => raw(app, 'POST', '/webhooks/stripe/%C0', {}, '{}'), status: 400, code: 'BAD_URL' },
      {
        name: 'over-long path segment',
        // Over routerOptions.maxParamLength (2,500), still under the 16 KiB a whole URL may take.
        send: () => raw(app, 'GET', `/api/v1/workspaces/ws_${'a'.repeat(3000)}`, auth),
        status: 414,
        code: 'URL_TOO_LONG',
      },
      {
        name: 'JSON that is not an object',
        send: () => raw(app, 'POST', '/api/v1/workspaces', json, '"name"'),
        status: 400,
        code: 'VALIDATION_FAILED',
      },
      { name: 'array body', send: () => raw(app, 'POST', '/api/v1/workspaces', json, '[]'), status: 400, code: 'VALIDATION_FAILED' },
      { name: 'unknown route', send: () => raw(app, 'GET', '/api/v1/nothing-here', auth), status: 404, code: 'NOT_FOUND' },
      { name: 'unknown method', send: () => raw(app, 'PURGE', '/api/v1/workspaces', auth), status: 404, code: 'NOT_FOUND' },
      {
        name: 'query array where one value is expected',
        send: () => raw(app, 'GET', `/api/v1/workspaces/${ws}/events?limit=1&limit=2`, auth),
        status: 400,
        code: 'VALIDATION_FAILED',
      },
      {
        name: 'NUL in a form field of the Piano webhook',
        send: () => raw(app, 'POST', '/webhooks/piano/ws_%00', { 'content-type': 'application/x-www-form-urlencoded' }, 'data=%00'),
        status: 400,
        code: 'VALIDATION_FAILED',
      },
    ];
    for (const c of cases) {
      const res = await c.send();
      assert.doesNotMatch(res.text, /FST_/, c.name);
      assert.equal(res.status, c.status, `${c.name}: ${res.text.slice(0, 300)}`);
      assert.equal(JSON.parse(res.text).error.code, c.code, `${c.name}: ${res.text.slice(0, 300)}`);
    }
  });

  test('an unknown query parameter is a 400 naming it on every API route without a body, those without parameters included', async () => {
    type Operation = { requestBody?: unknown; parameters: { name: string; in: string; schema: { pattern?: string } }[] };
    const doc = (await (await fetch(`${app.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    const ignored: string[] = [];
    let checked = 0;
    for (const [method, template] of routesOf(doc)) {
      // Webhooks take what the provider sends; the cron route is called by schedulers with their own extras.
      if (!template.startsWith('/api/v1/') || template.startsWith('/api/v1/cron/') || template === '/api/v1/openapi.json') continue;
      const op = doc.paths[template.replace(/:([A-Za-z]+)/g, '{$1}')]![method.toLowerCase()]!;
      // A body is validated before the query string: a route that takes one answers for the body first.
      if (op.requestBody) continue;
      // Path parameters of the right shape (an id with its prefix), so that the query string is what is wrong.
      const path = template.replace(/:([A-Za-z]+)/g, (_, name: string) => {
        if (name === 'ws') return ws;
        const prefix = /^\^([a-z]+)_/.exec(op.parameters.find((p) => p.in === 'path' && p.name === name)?.schema.pattern ?? '')?.[1];
        return prefix ? `${prefix}_1` : 'SOME_NAME';
      });
      const res = await fetch(`${app.url}${path}?colour=blue`, { method, headers: auth });
      checked += 1;
      const error = res.status === 400 ? ((await res.json()) as { error: { field?: string; message: string } }).error : null;
      if (!error || error.field !== 'colour' || !/\/querystring\/colour is not a known field/.test(error.message))
        ignored.push(`${method} ${template} → ${res.status} ${error ? error.message : ''}`);
    }
    assert.ok(checked > 50, `${checked} routes checked`);
    assert.deepEqual(ignored, []);
    // Documented parameters still work.
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=5`)).status, 200);
    assert.equal((await app.api('GET', '/api/v1/workspaces?limit=5')).status, 200);
  });

  test('page sizes are whole numbers written as such: 1.5, 0x2 and 1e1 are refused', async () => {
    for (const limit of ['1.5', '0x2', '1e1', '0', '501', '-1']) {
      const res = await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=${limit}`);
      assert.equal(res.status, 400, `limit=${limit}`);
      assert.deepEqual(res.body.error.problems, [{ path: '/querystring/limit', message: 'must be a whole number from 1 to 500' }]);
    }
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/events?limit=500`)).status, 200);
  });

  test('a number too large to represent is refused, not stored as null', async () => {
    const res = await raw(
      app,
      'POST',
      `/api/v1/workspaces/${ws}/events`,
      { ...auth, 'content-type': 'application/json' },
      '{"type":"course.big","data":{"a":1e400}}',
    );
    assert.equal(res.status, 400);
    assert.match(JSON.parse(res.text).error.message, /data\.a is a number too large to represent/);
    const listed = await app.api('GET', `/api/v1/workspaces/${ws}/messages?type=course.big`);
    assert.equal(listed.body.data.length, 0);
  });

  test('a body problem inside an optional body is named once, without "must be null" from the other branch', async () => {
    const extra = await app.api('DELETE', `/api/v1/workspaces/${ws}`, { x: 1 });
    assert.equal(extra.status, 400);
    assert.deepEqual(extra.body.error.problems, [{ path: '/body/x', message: 'is not a known field' }]);
    const wrongType = await app.api('POST', `/api/v1/workspaces/${ws}/rebuild`, { apply: 'true' });
    assert.deepEqual(wrongType.body.error.problems, [{ path: '/body/apply', message: 'must be boolean' }]);
    const wrongEnum = await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { role: 'root' });
    assert.equal(wrongEnum.body.error.problems.length, 1, JSON.stringify(wrongEnum.body.error.problems));
    assert.equal(wrongEnum.body.error.problems[0].path, '/body/role');
  });

  test('JSON only, in UTF-8: text/plain is 415, invalid UTF-8 is refused, a prototype key is named', async () => {
    const plain = await raw(app, 'POST', '/api/v1/workspaces', { ...auth, 'content-type': 'text/plain' }, '{"name":"x"}');
    assert.equal(plain.status, 415);
    assert.equal(JSON.parse(plain.text).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const latin = await raw(
      app,
      'POST',
      '/api/v1/workspaces',
      { ...auth, 'content-type': 'application/json' },
      Buffer.from([...Buffer.from('{"name":"a'), 0xff, 0xfe, ...Buffer.from('b"}')]),
    );
    assert.equal(latin.status, 400);
    assert.equal(JSON.parse(latin.text).error.code, 'INVALID_ENCODING');
    const proto = await raw(
      app,
      'POST',
      '/api/v1/workspaces',
      { ...auth, 'content-type': 'application/json' },
      '{"name":"p","__proto__":{"admin":true}}',
    );
    assert.equal(proto.status, 400);
    assert.match(JSON.parse(proto.text).error.message, /__proto__/);
    const names = (await app.api('GET', '/api/v1/workspaces?limit=500')).body.data.map((w: { name: string }) => w.name);
    assert.ok(!names.some((n: string) => n === 'x' || n === 'p' || n.includes('\ufffd')), 'nothing was created');
  });

  test('a % or _ in a customer search is a character, not a wildcard', async () => {
    // One customer, written directly: this app runs no projection.
    await app.ctx.db.query(
      "INSERT INTO customers (id, workspace_id, provider, provider_id, email, name) VALUES ('cus_searchtest000000000000', $1, 'stripe', 'cus_x', 'ann@example.com', 'Ann')",
      [ws],
    );
    for (const q of ['%', '_', 'a%n']) {
      const res = await app.api('GET', `/api/v1/workspaces/${ws}/customers?q=${encodeURIComponent(q)}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.data.length, 0, `q=${q} matched as a wildcard`);
    }
    assert.equal((await app.api('GET', `/api/v1/workspaces/${ws}/customers?q=ann`)).body.data.length, 1);
  });

  test('a Piano form body with two data fields is refused like a repeated query parameter', async () => {
    const res = await raw(app, 'POST', `/webhooks/piano/${ws}`, { 'content-type': 'application/x-www-form-urlencoded' }, 'data=a&data=b');
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.text).error.code, 'VALIDATION_FAILED');
  });
});
