// The setup link printed at start creates the first admin, and only the first: once someone else has made a user
// (the API, `sluice user create`, another setup link), a link still in an old log line makes no admin.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db, Queryable } from '../../src/db/port.js';
import { createUser } from '../../src/services/users/create-user.js';
import { ensureSetupLink } from '../../src/services/users/ensure-setup-link.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

async function setupForm(link: string): Promise<{ status: number; cookie: string; csrf: string | undefined }> {
  const page = await fetch(link);
  const cookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { status: page.status, cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] };
}

async function redeem(app: TestApp, link: string, email: string): Promise<Response> {
  // The login page hands out the pre-session CSRF cookie and token the setup form needs too.
  const form = await setupForm(`${app.url}/login`);
  const token = new URL(link).searchParams.get('token')!;
  return fetch(`${app.url}/setup`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      _csrf: form.csrf!,
      token,
      email,
      password: 'a-long-enough-password-1',
      confirm: 'a-long-enough-password-1',
    }),
  });
}

describe('the setup link', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(() => app.close());

  test('once a user exists, a setup link made while there was none creates no admin (410 LINK_UNUSABLE)', async () => {
    const link = await ensureSetupLink(app.ctx);
    assert.ok(link, 'no user yet: a link is offered');
    // Before anyone uses the link, the operator makes the first user another way.
    const made = await app.api('POST', '/api/v1/users', { email: 'first@example.com', password: 'first-admin-password-1', role: 'admin' });
    assert.equal(made.status, 201);

    assert.equal((await setupForm(link)).status, 410, 'the form is not offered');
    const res = await redeem(app, link, 'intruder@example.com');
    assert.equal(res.status, 410);
    assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('sluice_session=')), 'nobody was signed in');
    const users = await app.api('GET', '/api/v1/users');
    assert.deepEqual(
      users.body.data.map((u: { email: string }) => u.email),
      ['first@example.com'],
    );
  });

  test('a user made by the CLI while the setup link is used: one of them, never two first users', async () => {
    // After the previous test a user exists; start from none again.
    await app.ctx.db.query('DELETE FROM users');
    const link = await ensureSetupLink(app.ctx);
    assert.ok(link);

    // `sluice user create` as the CLI runs it, its insert held uncommitted until `release`, wherever it happens (a
    // bare statement or a transaction): the setup link is used in that window.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const insertDone = new Promise<void>((resolve) => (inserted = resolve));
    const real = app.ctx.db;
    const isInsert = (sql: string): boolean => /^\s*INSERT INTO users\b/.test(sql);
    const held = (inTx: Queryable, flag: { hit: boolean }): Queryable => ({
      query: (sql, params) => {
        if (isInsert(sql)) flag.hit = true;
        return inTx.query(sql, params);
      },
      exec: (sql) => inTx.exec(sql),
    });
    const cliDb: Db = Object.assign(Object.create(real) as Db, {
      query: <T>(sql: string, params?: readonly unknown[]) =>
        isInsert(sql)
          ? real.transaction(async (tx) => {
              const r = await tx.query<T>(sql, params);
              inserted();
              await gate;
              return r;
            })
          : real.query<T>(sql, params),
      transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
        real.transaction(async (tx) => {
          const flag = { hit: false };
          const r = await fn(held(tx, flag));
          if (flag.hit) {
            inserted();
            await gate;
          }
          return r;
        }),
    });
    const cli = createUser(
      { ...app.ctx, db: cliDb },
      { kind: 'cli' },
      { email: 'cli@example.com', role: 'admin', password: 'cli-admin-password-1' },
    );
    await insertDone;

    let settled = false;
    const viaLink = redeem(app, link, 'link@example.com').finally(() => (settled = true));
    // Wait until the link's request has either finished or is waiting on the user-creation lock, then let the CLI commit.
    for (;;) {
      if (settled) break;
      const { rows } = await real.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
      );
      if (rows[0]!.n > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    release();
    await cli;
    const res = await viaLink;
    const users = await app.api('GET', '/api/v1/users');
    assert.deepEqual(
      users.body.data.map((u: { email: string }) => u.email),
      ['cli@example.com'],
      'only the CLI user: the setup link made no second first admin',
    );
    assert.equal(res.status, 410, 'the setup link answers that it cannot be used');
    assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('sluice_session=')), 'nobody was signed in');
  });

  test('a set-password link used once: the page says so in sentences, and what to do next', async () => {
    const made = await app.api('POST', '/api/v1/users', { email: 'member@example.com', role: 'member' });
    assert.equal(made.status, 201);
    const link = made.body.setPasswordUrl as string;
    const form = await setupForm(`${app.url}/login`);
    const used = await fetch(`${app.url}/set-password`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        _csrf: form.csrf!,
        token: new URL(link).searchParams.get('token')!,
        password: 'a-long-enough-password-2',
        confirm: 'a-long-enough-password-2',
      }),
    });
    assert.equal(used.status, 303);

    const again = await fetch(link);
    assert.equal(again.status, 410);
    const text = (await again.text())
      .replace(/<[^>]*>/g, ' ')
      .replace(/&#x27;|&#39;/g, "'")
      .replace(/\s+/g, ' ');
    assert.match(text, /Link no longer valid/);
    assert.match(
      text,
      / This link can no longer be used: it was already used, has expired, was replaced by a newer one, or is not one Sluice made\. /,
    );
    assert.match(text, /If you set your password with it, sign in with that password\./);
    assert.match(text, /Ask an admin for a new one\./);
    assert.doesNotMatch(text, / this link /, 'no sentence starts in lowercase');
  });
});
