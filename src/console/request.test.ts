import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeNext } from './request.js';

test('safeNext keeps paths on this site', () => {
  assert.equal(safeNext('/workspaces/ws_1/events?type=a#x'), '/workspaces/ws_1/events?type=a#x');
  assert.equal(safeNext(undefined), '/');
  assert.equal(safeNext('https://evil.example/'), '/');
  assert.equal(safeNext('//evil.example/'), '/');
  assert.equal(safeNext('/\\evil.example/'), '/');
});

test('safeNext refuses tabs, newlines and other control characters that browsers strip from a Location', () => {
  // Chromium drops tab/CR/LF from a URL before resolving it, so `/\t/evil` is followed as `//evil`: another host.
  for (const sneaky of [
    '/\t/evil.example/',
    '/\n/evil.example/',
    '/\r/evil.example/',
    '/\t\\evil.example/',
    '/a\\..\\\\evil',
    '/\u0000x',
  ]) {
    assert.equal(safeNext(sneaky), '/', JSON.stringify(sneaky));
  }
});
