// Endpoint destination validation, without a database: parseDestination reads only the outbound config.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../errors.js';
import type { Ctx } from '../context.js';
import { parseDestination } from './endpoint-input.js';

// A literal public address, so that no DNS lookup is made.
const HOST = '93.184.215.14';
const ctx = { config: { outboundAllow: [], outboundAllowHttp: false } } as unknown as Ctx;

async function refusal(raw: unknown, field?: string): Promise<AppError> {
  try {
    await parseDestination(ctx, raw, field);
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  assert.fail(`${JSON.stringify(raw)} was accepted`);
}

describe('parseDestination', () => {
  test('an ordinary https URL is accepted in its normalised form', async () => {
    assert.equal(await parseDestination(ctx, `HTTPS://${HOST}:8443/hook?a=1`), `https://${HOST}:8443/hook?a=1`);
  });

  test('port 0 is refused: nothing can be delivered to it', async () => {
    for (const raw of [`https://${HOST}:0/hook`, `https://${HOST}:00/hook`, `https://example.com:0/hook`]) {
      const err = await refusal(raw);
      assert.equal(err.status, 400, raw);
      assert.equal(err.code, 'VALIDATION_FAILED', raw);
      assert.match(err.message, /^url has port 0/, raw);
    }
    assert.match((await refusal(`https://${HOST}:0/`, 'targetUrl')).message, /^targetUrl has port 0/);
  });

  test('the 2000-character limit holds for the URL as stored, after percent-encoding lengthened it', async () => {
    // 1 + 1000 "é" is 1,980 characters as sent, 6,000+ once each "é" becomes %C3%A9.
    const raw = `https://${HOST}/${'é'.repeat(1000)}`;
    assert.ok(raw.length <= 2000);
    const err = await refusal(raw);
    assert.equal(err.status, 400);
    assert.match(err.message, /^url is longer than 2000 characters once normalised/);
    // Exactly at the limit once normalised is still fine.
    const base = `https://${HOST}/`;
    const atLimit = base + 'a'.repeat(2000 - base.length);
    assert.equal((await parseDestination(ctx, atLimit)).length, 2000);
    assert.match((await refusal(atLimit + 'a')).message, /at most 2000 characters/);
  });
});
