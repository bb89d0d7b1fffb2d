// The OpenAPI document is generated from the registered routes: it must be a valid OpenAPI 3.1 document, list
// every route the app serves and nothing it does not, and every route needs a schema with a summary and a tag.
// docs/api.md is rendered from it and must be up to date; every route of the contract must exist.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { API_DOCS_PATH, buildAppWithoutDb, renderApiDocs } from '../../scripts/api-docs.js';
import { buildOpenApiDocument, TAGS } from '../../src/http/plugins/openapi.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        summary?: string;
        tags: string[];
        parameters: { name: string; in: string }[];
        responses: Record<string, unknown>;
        security: unknown[];
        'x-sluice-access'?: string;
      }
    >
  >;
};

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI document', () => {
  let app: TestApp;
  let doc: Doc;
  let routesApp: FastifyInstance;
  before(async () => {
    app = await startTestApp({ worker: false });
    routesApp = await buildAppWithoutDb();
    const res = await fetch(`${app.url}/api/v1/openapi.json`); // no token: the document is public
    assert.equal(res.status, 200);
    doc = (await res.json()) as Doc;
  });
  after(async () => {
    await routesApp.close();
    await app.close();
  });

  test('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
  });

  test('lists every registered route and only registered routes', () => {
    const registered = routesApp.registeredRoutes;
    assert.ok(registered.length > 40, `only ${registered.length} routes registered`);
    for (const route of registered) {
      assert.ok(
        doc.paths[toOpenApiPath(route.url)]?.[route.method.toLowerCase()],
        `${route.method} ${route.url} missing from the document`,
      );
    }
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const url = path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
        assert.ok(routesApp.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method} ${path} is documented but not served`);
      }
    }
    // The served document is the one built from this app's routes.
    assert.deepEqual(doc, JSON.parse(JSON.stringify(buildOpenApiDocument(registered, '0.1.0'))));
  });

  test('every route has a schema: summary, a known tag, its path parameters, a success answer', () => {
    const tagNames = new Set(TAGS.map((t) => t.name));
    const missing: string[] = [];
    for (const route of routesApp.registeredRoutes) {
      const name = `${route.method} ${route.url}`;
      const schema = route.schema;
      if (!schema) {
        missing.push(`${name}: no schema`);
        continue;
      }
      if (!schema.summary) missing.push(`${name}: no summary`);
      if (!schema.tags?.length || !schema.tags.every((t) => tagNames.has(t))) missing.push(`${name}: no known tag`);
      if (!Object.keys(schema.response ?? {}).some((s) => s.startsWith('2'))) missing.push(`${name}: no success response`);
      const urlParams = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]).sort();
      const schemaParams = Object.keys((schema.params as { properties?: object } | undefined)?.properties ?? {}).sort();
      if (JSON.stringify(urlParams) !== JSON.stringify(schemaParams))
        missing.push(`${name}: params schema ${schemaParams} ≠ URL ${urlParams}`);
      if (
        ['POST', 'PUT', 'PATCH'].includes(route.method) &&
        !schema.body &&
        !schema.bodyDoc &&
        !/\/(replay|retry|rotate-secret)$/.test(route.url)
      ) {
        missing.push(`${name}: no body schema`);
      }
    }
    assert.deepEqual(missing, []);
  });

  test('management routes require the bearer token; webhooks and ops do not', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const bearer = path.startsWith('/api/v1/') && path !== '/api/v1/openapi.json';
        assert.equal(op.security.length > 0, bearer, `${method} ${path}`);
      }
    }
  });

  test('the role each route documents is the role the server asks for', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'Roles in the document' })).body.id as string;
    const key = async (role: string) =>
      (await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: role, role })).body.key as string;
    const keys = { admin: await key('admin'), member: await key('member'), viewer: await key('viewer') };
    // For each documented access: a credential of exactly that role (never refused with 403, which would be a check
    // the document cannot see), and one a role short (refused with 403 before anything runs).
    const exact: Record<string, string | undefined> = {
      'instance-admin': undefined,
      admin: keys.admin,
      member: keys.member,
      viewer: keys.viewer,
    };
    const short: Record<string, string | undefined> = { 'instance-admin': keys.admin, admin: keys.member, member: keys.viewer };
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const access = op['x-sluice-access'];
        if (!op.security.some((s) => 'bearer' in (s as object))) {
          assert.equal(access, undefined, `${method} ${path}`);
          continue;
        }
        assert.ok(access && access in exact, `${method} ${path}: ${access}`);
        const url = path.replace('{ws}', ws).replace(/\{[A-Za-z0-9_]+\}/g, 'x_not_there');
        const body = method === 'get' || method === 'delete' ? undefined : {};
        const allowed = await app.api(method.toUpperCase(), url, body, exact[access]);
        assert.notEqual(allowed.status, 403, `${method} ${path} (${access}) with that role: ${JSON.stringify(allowed.body)}`);
        if (short[access]) {
          const refused = await app.api(method.toUpperCase(), url, body, short[access]);
          assert.equal(
            refused.status,
            403,
            `${method} ${path} (${access}) a role short: ${refused.status} ${JSON.stringify(refused.body)}`,
          );
        }
        checked++;
      }
    }
    assert.ok(checked > 80, `${checked} routes checked`);
  });

  test('every route of the contract (INTERFACE.md, not planned) exists', () => {
    const listed = readFileSync(new URL('./interface-routes.txt', import.meta.url), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.ok(listed.length > 40);
    const absent = listed.filter((line) => {
      const [method, path] = line.split(' ') as [string, string];
      const url = /^\/(healthz|readyz|metrics|webhooks)/.test(path) ? path : `/api/v1${path}`;
      return !doc.paths[toOpenApiPath(url)]?.[method.toLowerCase()];
    });
    assert.deepEqual(absent, []);
  });

  test('docs/api.md is the rendering of the current document (run `npm run docs:api`)', () => {
    assert.equal(readFileSync(API_DOCS_PATH, 'utf8'), renderApiDocs(doc), 'docs/api.md is out of date: run `npm run docs:api`');
  });
});
