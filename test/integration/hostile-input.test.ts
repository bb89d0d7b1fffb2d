// Hostile and malformed input on every route: no answer is a 5xx, nothing crashes, and what no field can hold
// (NUL characters, unpaired surrogates, absurd nesting, out-of-range times) is a 400 that says where it was.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { routesOf, type OpenApiPaths } from '../helpers/openapi-routes.js';

async function registeredRoutes(url: string): Promise<Array<[string, string]>> {
  return routesOf((await (await fetch(`${url}/api/v1/openapi.json`)).json()) as OpenApiPaths);
}

function deepJson(depth: number): string {
  return `{"type":"course.enrolled","data":{"x":${'['.repeat(depth)}1${']'.repeat(depth)}}}`;
}

describe('hostile input', () => {
  let app: TestApp;
  let ws: string;

  before(async () => {
    app = await startTestApp({ worker: false });
    ws = (await app.api('POST', '/api/v1/workspaces', { name: 'hostile' })).body.id;
  });
  after(() => app.close());

  async function send(
    method: string,
    url: string,
    body?: string,
    contentType = 'application/json',
  ): Promise<{ status: number; text: string }> {
    const res = await fetch(`${app.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${app.adminToken}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined || method === 'GET' ? {} : { body }),
    });
    return { status: res.status, text: await res.text() };
  }

  test('the routes were found', async () => {
    const routes = await registeredRoutes(app.url);
    assert.ok(routes.length >= 50, `only ${routes.length} routes in the OpenAPI document`);
  });

  test('no malformed request on any route is answered 5xx', async () => {
    const segments = ['%00', 'a%00b', '%E0%A4%A', '%ED%A0%80', 'x'.repeat(3000), '..%2F..%2Fetc', '%F0%9F%92%A9'];
    const queries = [
      'limit=%00',
      'limit=-1',
      'limit=1e400',
      'since=99999-01-01',
      'since=%00',
      'type=%00',
      'q=%00',
      'cursor=%00',
      'status=%FF',
      'email=a%00b',
      'type[]=x&type[]=y',
      'since=-99999999999999',
    ];
    const bodies = [
      '{"name":"a\\u0000b"}',
      '{"name":"\\ud800"}',
      deepJson(10_000),
      '[]',
      '"x"',
      '1',
      'null',
      '{',
      '{"a":',
      '\u0000',
      JSON.stringify({ name: 'x'.repeat(100_000) }),
      '{"__proto__":{"admin":true}}',
    ];
    const failures: string[] = [];
    let count = 0;
    for (const [method, template] of await registeredRoutes(app.url)) {
      const withWs = template.replace(/:ws\b|:workspaceId\b/, ws);
      const urls = [
        ...segments.map((s) => withWs.replace(/:[A-Za-z]+/g, s)),
        ...segments.map((s) => template.replace(/:[A-Za-z]+/g, s)),
        ...queries.map((q) => `${withWs.replace(/:[A-Za-z]+/g, 'x_1')}?${q}`),
      ];
      for (const url of urls) {
        const r = await send(method, url, method === 'GET' || method === 'DELETE' ? undefined : '{}');
        count += 1;
        if (r.status >= 500) failures.push(`${method} ${url} → ${r.status} ${r.text.slice(0, 200)}`);
      }
      if (method !== 'GET') {
        for (const body of bodies) {
          const r = await send(method, withWs.replace(/:[A-Za-z]+/g, 'x_1'), body);
          count += 1;
          if (r.status >= 500) failures.push(`${method} ${withWs} body ${body.slice(0, 40)} → ${r.status} ${r.text.slice(0, 200)}`);
        }
      }
    }
    assert.ok(count > 500, `sent ${count}`);
    assert.deepEqual(failures, []);
    // Still serving after all that.
    assert.equal((await send('GET', '/healthz')).status, 200);
  });

  test('a NUL in a path segment, a query parameter or a JSON field is a 400 naming it', async () => {
    const nulPath = await send('POST', '/webhooks/stripe/%00', '{}');
    assert.equal(nulPath.status, 400);
    assert.match(JSON.parse(nulPath.text).error.message, /workspaceId.*NUL/);

    for (const q of ['events?type=%00', 'customers?q=%00']) {
      const r = await send('GET', `/api/v1/workspaces/${ws}/${q}`);
      assert.equal(r.status, 400, q);
      const error = JSON.parse(r.text).error;
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.match(error.message, /query parameter (type|q) contains a NUL/);
    }

    const name = await send('POST', '/api/v1/workspaces', '{"name":"shop\\u0000"}');
    assert.equal(name.status, 400);
    assert.deepEqual(
      JSON.parse(name.text).error.problems.map((p: { path: string }) => p.path),
      ['/body/name'],
    );
    const listed = await app.api('GET', '/api/v1/workspaces');
    assert.ok(!listed.body.data.some((w: { name: string }) => w.name.startsWith('shop')), 'nothing was created');

    const lone = await send('POST', '/api/v1/workspaces', '{"name":"\\udc00 shop"}');
    assert.equal(lone.status, 400);
    assert.match(JSON.parse(lone.text).error.message, /unpaired UTF-16 surrogate/);
  });

  test('a control character or line break in a name or description is a 400 naming the field, and nothing is saved', async () => {
    const bad = ['a\u0001b', 'shop\nname', 'cr\rhere', 'tab\there', 'del\u007f', 'esc\u001b[2J', 'c1\u0085x', 'ls\u2028x'];
    const problem = async (method: string, path: string, body: unknown, field: string, status = 400) => {
      const res = await app.api(method, path, body);
      assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
      if (status === 400) {
        assert.equal(res.body.error.field, field);
        assert.match(
          res.body.error.message,
          new RegExp(`^${field} must be one line without control characters \\(U\\+[0-9A-F]{4} at character \\d+\\)$`),
        );
      } else {
        assert.ok(
          res.body.error.problems.some((p: { path: string; message: string }) => p.path === field && /control character/.test(p.message)),
          JSON.stringify(res.body.error.problems),
        );
      }
    };
    const w = `/api/v1/workspaces/${ws}`;
    const endpoint = (await app.api('POST', `${w}/endpoints`, { url: 'https://93.184.215.14/hook', description: 'fine' })).body.id;
    assert.ok(endpoint);
    const piano = { aid: 'AppHostile1', privateKey: 'PianoHostilePrivateKey0123456789abcdefgh' };
    assert.equal((await app.api('PUT', `${w}/connections/piano`, piano)).status, 200);
    for (const value of bad) {
      await problem('POST', '/api/v1/workspaces', { name: value }, 'name');
      await problem('PATCH', w, { name: value }, 'name');
      await problem('POST', `${w}/api-keys`, { name: value }, 'name');
      await problem('POST', `${w}/endpoints`, { url: 'https://93.184.215.14/hook', description: value }, 'description');
      await problem('PATCH', `${w}/endpoints/${endpoint}`, { description: value }, 'description');
      await problem('POST', `${w}/connections/piano/forwards`, { url: 'https://93.184.215.14/piano', description: value }, 'description');
      const definition = {
        name: value,
        trigger: { source: 'sluice', object: 'subscription', actions: ['canceled'] },
        steps: [{ id: 'tag', kind: 'crm.tag', add: ['x'] }],
      };
      await problem('POST', `${w}/workflows`, definition, 'name', 422);
    }
    const names = (await app.api('GET', '/api/v1/workspaces')).body.data.map((x: { name: string }) => x.name);
    assert.ok(!names.some((n: string) => /\p{Cc}/u.test(n)), JSON.stringify(names));
    assert.equal((await app.api('GET', w)).body.name, 'hostile');
    assert.equal((await app.api('GET', `${w}/endpoints/${endpoint}`)).body.description, 'fine');
    // What people do type in names is kept: accents, emoji, quotes, inner spaces.
    const ok = await app.api('POST', '/api/v1/workspaces', { name: 'Café « Zürich » 🍰 — "B&B"' });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.name, 'Café « Zürich » 🍰 — "B&B"');
  });

  test('custom event data nested 10,000 deep is a 400, not a crash', async () => {
    const r = await send('POST', `/api/v1/workspaces/${ws}/events`, deepJson(10_000));
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.text).error.message, /nested deeper than 64 levels/);
    const ok = await send('POST', `/api/v1/workspaces/${ws}/events`, deepJson(20));
    assert.ok(ok.status === 201 || ok.status === 200, `20 levels is fine: ${ok.status} ${ok.text}`);
  });

  test('a time outside what can be stored is a 400', async () => {
    const r = await send('GET', `/api/v1/workspaces/${ws}/messages?since=99999-01-01`);
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.text).error.message, /since/);
  });
});
