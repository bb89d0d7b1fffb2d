import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debugFlagHint } from './debug-hint.js';

test('the --debug hint follows how the command was run', () => {
  assert.equal(debugFlagHint(undefined), '--debug');
  assert.equal(debugFlagHint('start'), 'npm start -- --debug');
  assert.equal(debugFlagHint('sluice'), 'npm run sluice -- --debug');
  // npx and npm exec name themselves in npm_lifecycle_event; `npm run npx -- --debug` would fail.
  assert.equal(debugFlagHint('npx'), '--debug');
  assert.equal(debugFlagHint('exec'), '--debug');
});
