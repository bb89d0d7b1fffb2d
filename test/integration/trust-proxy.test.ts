// SLUICE_TRUST_PROXY: behind the TLS reverse proxy the docs recommend, every request comes from the proxy's address.
// Trusting that address's X-Forwarded-For gives each client its own sign-in and cron budget and its own address in the
// log; without the variable the header is nobody's word, so a client cannot choose its address to dodge a limit.
// Here the test itself plays the proxy: it connects from 127.0.0.1 and sends X-Forwarded-For.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { safeLoggerOptions } from '../../src/lib/log-safety.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeUser } from '../helpers/browser.js';
import { runSluice } from '../helpers/sluice-process.js';

const CRON_SECRET = 'trust-proxy-cron-secret-0123456789';

/** A logger at info whose lines the test reads (the request lines carry the client address). */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino(safeLoggerOptions('info'), stream), lines };
}

/** The app as `sluice start` would build it with this environment (the variable read by loadConfig, as at a start). */
async function appWith(env: Record<string, string>, log: TestApp['ctx']['log']): Promise<TestApp> {
  const { trustProxy } = loadConfig(env);
  return startTestApp({ worker: false, log, config: { trustProxy, cronSecret: CRON_SECRET } });
}

async function loginPage(app: TestApp, headers: Record<string, string>): Promise<{ cookie: string; csrf: string; setCookies: string[] }> {
  const page = await fetch(`${app.url}/login`, { headers });
  const setCookies = page.headers.getSetCookie();
  const cookie = setCookies.map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  return { cookie, csrf, setCookies };
}

/** One sign-in through the real form, as a client whose proxy sends `headers`. */
async function signIn(app: TestApp, headers: Record<string, string>, email: string, password: string): Promise<Response> {
  const { cookie, csrf } = await loginPage(app, headers);
  return fetch(`${app.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, email, password, next: '/' }),
  });
}

const cron = (app: TestApp, headers: Record<string, string>, secret: string) =>
  fetch(`${app.url}/api/v1/cron/scan`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${secret}` } });

/** The client addresses logged for the requests to `path`. */
function loggedAddresses(lines: Record<string, unknown>[], path: string): string[] {
  return lines
    .map((l) => l.req as { path?: string; remoteAddress?: string } | undefined)
    .filter((r) => r?.path === path)
    .map((r) => r!.remoteAddress!);
}

describe('SLUICE_TRUST_PROXY set to the address the proxy connects from', () => {
  let app: TestApp;
  const { log, lines } = capturedLog();
  before(async () => {
    app = await appWith({ SLUICE_TRUST_PROXY: '127.0.0.1' }, log);
  });
  after(() => app.close());

  test('one client locked out of an account does not lock out another client of the same account', { timeout: 120_000 }, async () => {
    const user = await makeUser(app, 'admin');
    const attacker = { 'x-forwarded-for': '203.0.113.7' };
    for (let i = 0; i < 10; i++) assert.equal((await signIn(app, attacker, user.email, `wrong-${i}`)).status, 401, `guess ${i}`);
    // The attacker's budget for this account is spent, even with the right password.
    const locked = await signIn(app, attacker, user.email, user.password);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    // The person, at another address behind the same proxy, still signs in.
    const person = await signIn(app, { 'x-forwarded-for': '198.51.100.23' }, user.email, user.password);
    assert.equal(person.status, 303);
    assert.ok(person.headers.getSetCookie().some((c) => c.startsWith('sluice_session=')));
  });

  test('the address is the one the proxy saw, not one the client put in front of it', { timeout: 120_000 }, async () => {
    const user = await makeUser(app, 'admin');
    // A client sending its own X-Forwarded-For: the proxy appends the address it saw (nginx $proxy_add_x_forwarded_for).
    const spoofing = (i: number) => ({ 'x-forwarded-for': `192.0.2.${i}, 203.0.113.99` });
    for (let i = 0; i < 10; i++) assert.equal((await signIn(app, spoofing(i), user.email, `wrong-${i}`)).status, 401, `guess ${i}`);
    assert.equal((await signIn(app, spoofing(77), user.email, user.password)).status, 429, 'a new made-up entry is still 203.0.113.99');
    assert.equal((await signIn(app, { 'x-forwarded-for': '198.51.100.30' }, user.email, user.password)).status, 303);
  });

  test('the log and the cron limiter see the forwarded address', async () => {
    lines.length = 0;
    const attacker = { 'x-forwarded-for': '203.0.113.8' };
    for (let i = 0; i < 10; i++) assert.equal((await cron(app, attacker, `wrong-secret-${i}-0123456789`)).status, 401);
    assert.equal((await cron(app, attacker, 'wrong-secret-x-0123456789')).status, 429);
    // Another client's failed attempt is checked (401), not refused for the attacker's (429).
    assert.equal((await cron(app, { 'x-forwarded-for': '198.51.100.24' }, 'wrong-secret-y-0123456789')).status, 401);
    const logged = loggedAddresses(lines, '/api/v1/cron/scan');
    assert.equal(logged.length, 12, 'the incoming-request line of each request');
    assert.deepEqual(new Set(logged), new Set(['203.0.113.8', '198.51.100.24']));
  });

  test('X-Forwarded-Proto https from the proxy marks the console cookies Secure (no SLUICE_PUBLIC_URL)', async () => {
    const https = await loginPage(app, { 'x-forwarded-for': '198.51.100.25', 'x-forwarded-proto': 'https' });
    assert.ok(https.setCookies.length > 0);
    for (const c of https.setCookies) assert.match(c, /; Secure/);
    const http = await loginPage(app, { 'x-forwarded-for': '198.51.100.25', 'x-forwarded-proto': 'http' });
    for (const c of http.setCookies) assert.doesNotMatch(c, /Secure/);
  });
});

// These hold today (nothing is trusted) and guard the default: they fail if Sluice ever trusts the header by default
// (Fastify's trustProxy: true), which would let every client pick a fresh address for every guess.
describe('SLUICE_TRUST_PROXY unset: X-Forwarded-For and X-Forwarded-Proto are ignored', () => {
  let app: TestApp;
  const { log, lines } = capturedLog();
  before(async () => {
    app = await appWith({}, log);
  });
  after(() => app.close());

  test('a client sending a new X-Forwarded-For with every guess is still limited by its own address', { timeout: 120_000 }, async () => {
    lines.length = 0;
    const user = await makeUser(app, 'admin');
    const made = (i: number) => ({ 'x-forwarded-for': `203.0.113.${i + 1}`, 'x-forwarded-proto': 'https' });
    for (let i = 0; i < 10; i++) assert.equal((await signIn(app, made(i), user.email, `wrong-${i}`)).status, 401, `guess ${i}`);
    assert.equal((await signIn(app, made(50), user.email, user.password)).status, 429);
    const logged = loggedAddresses(lines, '/login');
    assert.ok(logged.length > 0);
    assert.deepEqual(new Set(logged), new Set(['127.0.0.1']));
    const page = await loginPage(app, made(51));
    for (const c of page.setCookies) assert.doesNotMatch(c, /Secure/, 'X-Forwarded-Proto from anyone is not https');
  });

  test('the cron limiter too', async () => {
    for (let i = 0; i < 10; i++)
      assert.equal((await cron(app, { 'x-forwarded-for': `203.0.113.${i + 1}` }, `wrong-secret-${i}-0123456789`)).status, 401);
    assert.equal((await cron(app, { 'x-forwarded-for': '198.51.100.26' }, 'wrong-secret-y-0123456789')).status, 429);
  });
});

test(
  'a SLUICE_TRUST_PROXY that trusts everyone, or is not a list of addresses, stops the start naming it',
  { timeout: 60_000 },
  async () => {
    // An unreachable database: were the value accepted, the start would fail later, on the database, and say so.
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', SLUICE_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'sluice-trust-')) };
    for (const [value, entry] of [
      ['true', 'true'],
      ['127.0.0.1, 0.0.0.0/0', '0.0.0.0/0'],
      ['127.0.0.1,proxy.internal', 'proxy.internal'],
      ['2', '2'],
    ] as const) {
      const run = await runSluice(['start', '--port', '0'], { ...env, SLUICE_TRUST_PROXY: value });
      assert.equal(run.code, 1, `${value}: ${run.stderr}`);
      assert.match(run.stderr, /\[CONFIG_INVALID\]/, value);
      assert.ok(run.stderr.includes(`SLUICE_TRUST_PROXY: "${entry}"`), `${value} names the bad entry: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /database/i, value);
    }
  },
);
