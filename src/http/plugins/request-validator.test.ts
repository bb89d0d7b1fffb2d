import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from 'typebox';
import { checkFirstValidatorCompiler } from './request-validator.js';

type Validate = (value: unknown) => { value?: unknown; error?: { instancePath?: string }[] };
const compile = (schema: Parameters<typeof checkFirstValidatorCompiler>[0]['schema'], httpPart: string) =>
  checkFirstValidatorCompiler({ schema, httpPart, method: 'GET', url: '/' }) as unknown as Validate;

test('a part that is valid as it came is kept as it came (no conversion walk)', () => {
  const headers = { 'stripe-signature': 't=1,v1=ab', 'x-other': '1' };
  const out = compile(
    Type.Object({ 'stripe-signature': Type.Optional(Type.String()) }, { additionalProperties: true }),
    'headers',
  )(headers);
  assert.equal(out.value, headers);
});

test('query and path text is converted when the schema wants a number or a boolean', () => {
  const out = compile(
    Type.Object({ limit: Type.Integer({ minimum: 1 }), open: Type.Boolean() }),
    'querystring',
  )({ limit: '25', open: 'true' });
  assert.deepEqual(out.value, { limit: 25, open: true });
  const bad = compile(Type.Object({ limit: Type.Integer({ minimum: 1 }) }), 'querystring')({ limit: 'ten' });
  assert.equal(bad.value, undefined);
  assert.equal(bad.error?.[0]?.instancePath, '/limit');
});

test('a JSON body is never converted: its types are what the sender wrote', () => {
  const out = compile(Type.Object({ limit: Type.Integer() }), 'body')({ limit: '25' });
  assert.equal(out.value, undefined);
  assert.ok((out.error?.length ?? 0) > 0);
  assert.deepEqual(compile(Type.Object({ limit: Type.Integer() }), 'body')({ limit: 25 }).value, { limit: 25 });
});
