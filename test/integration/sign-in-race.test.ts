// A sign-in checks the password outside any transaction (it takes tens of milliseconds). A password set meanwhile
// (a set-password link: new hash, every session of the user ended, in one transaction) must not leave behind a
// session opened with the old password.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db, Queryable } from '../../src/db/port.js';
import { UnauthorizedError } from '../../src/errors.js';
import { hashPassword } from '../../src/lib/password.js';
import { createUser } from '../../src/services/users/create-user.js';
import { createOneTimeLink } from '../../src/services/users/one-time-link.js';
import { resolveSession, signIn } from '../../src/services/users/sessions.js';
import { redeemLink, redeemLinkAndSignIn } from '../../src/services/users/use-link.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const OLD = 'the-old-password-7Qk2';
const NEW = 'the-new-password-Vd93';

describe('sign-in racing a password change', () => {
  let app: TestApp;
  let userId: string;
  const email = 'racer@example.test';
  const sessions = async () =>
    Number((await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM user_sessions WHERE user_id = $1', [userId])).rows[0]!.n);

  before(async () => {
    app = await startTestApp({ worker: false });
    userId = (await createUser(app.ctx, { kind: 'admin' }, { email, password: OLD, role: 'admin' })).user.id;
  });
  after(() => app.close());

  /**
   * Runs `change` in a transaction held open while a sign-in runs, until the sign-in has finished or waits for that
   * transaction, then commits it; answers the sign-in's outcome.
   */
  async function signInWhileHeld(who: string, password: string, change: (tx: Queryable) => Promise<void>): Promise<unknown> {
    let settled = false;
    let attempt: Promise<unknown> = Promise.resolve();
    await app.db.transaction(async (tx) => {
      await change(tx);
      attempt = signIn(app.ctx, who, password).finally(() => (settled = true));
      attempt.catch(() => {});
      for (let i = 0; i < 500 && !settled; i++) {
        const { rows } = await app.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO user_sessions%'`,
        );
        if (rows[0]!.n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    return attempt;
  }

  test('a sign-in with the old password while the new one is being set opens no session', async () => {
    const newHash = await hashPassword(NEW);
    // What redeeming a set-password link does, held open before its commit; the old password is still the committed
    // one, so the sign-in reads it and checks it, then opens its session.
    const attempt = signInWhileHeld(email, OLD, async (tx) => {
      await tx.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, newHash]);
      await tx.query('DELETE FROM user_sessions WHERE user_id = $1', [userId]);
    });
    await assert.rejects(attempt, (err: unknown) => err instanceof UnauthorizedError);
    assert.equal(await sessions(), 0, 'no session outlives the password change');

    // The new password signs in; the old one is refused.
    const { cookie } = await signIn(app.ctx, email, NEW);
    assert.ok(cookie);
    assert.equal(await sessions(), 1);
    await assert.rejects(signIn(app.ctx, email, OLD), (err: unknown) => err instanceof UnauthorizedError);
  });

  /** A user with a password and a set-password link of their own, as the link page would redeem it. */
  async function userWithLink(who: string): Promise<{ id: string; token: string }> {
    const id = (await createUser(app.ctx, { kind: 'admin' }, { email: who, password: OLD, role: 'admin' })).user.id;
    const url = await createOneTimeLink(app.ctx, 'set_password', id);
    return { id, token: new URL(url).searchParams.get('token')! };
  }
  const sessionsOf = async (id: string) =>
    Number((await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM user_sessions WHERE user_id = $1', [id])).rows[0]!.n);

  // The racing order, step by step: signIn's seam runs after the old password was checked and before the session is
  // written, and there the real link service sets the new password and commits.
  test('a set-password link used between the password check and the session: refused, no session', async () => {
    const who = 'linked@example.test';
    const { id, token } = await userWithLink(who);
    let redeemed = false;
    const attempt = signIn(app.ctx, who, OLD, async () => {
      await redeemLink(app.ctx, token, { password: NEW, confirm: NEW });
      redeemed = true;
    });
    await assert.rejects(attempt, (err: unknown) => err instanceof UnauthorizedError && err.status === 401);
    assert.ok(redeemed, 'the link was used after the old password had been checked');
    assert.equal(await sessionsOf(id), 0, 'no session opened with the password the link replaced');

    const { cookie } = await signIn(app.ctx, who, NEW);
    assert.equal((await resolveSession(app.ctx, cookie))?.user.id, id, 'the new password signs in');
    await assert.rejects(signIn(app.ctx, who, OLD), (err: unknown) => err instanceof UnauthorizedError);
  });

  // The other order: the sign-in's session is written first, then the link commits; the link ends the sessions by
  // user at its commit, so one opened moments before is among them.
  test('a session opened with the old password just before the link is used ends with it', async () => {
    const who = 'linked-after@example.test';
    const { id, token } = await userWithLink(who);
    const { cookie } = await signIn(app.ctx, who, OLD);
    assert.equal((await resolveSession(app.ctx, cookie))?.user.id, id);
    await redeemLink(app.ctx, token, { password: NEW, confirm: NEW });
    assert.equal(await resolveSession(app.ctx, cookie), undefined, 'the old session ended with the password');
    assert.equal(await sessionsOf(id), 0);
  });

  /** Resolves once `attempt` has settled or waits for a lock that the transaction on `tx` holds. */
  async function untilSettledOrBlockedBy(tx: Queryable, attempt: Promise<unknown>): Promise<void> {
    let settled = false;
    attempt.then(
      () => (settled = true),
      () => (settled = true),
    );
    const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    for (let i = 0; !settled; i++) {
      const { rows } = await app.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))',
        [pid],
      );
      if (rows[0]!.n > 0) return;
      // A bound so a broken build fails here instead of hanging; the outcome does not depend on it.
      if (i === 1000) throw new Error('the sign-in neither finished nor waited for the link');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // The real link service, with a sign-in (old password) started after its n-th statement inside its transaction and
  // let run as far as it can before the link goes on: before the new password is written the sign-in opens its
  // session, which the link must then end; after, it must wait for the link and be refused. A link that ended the
  // sessions before writing the password would leave the session of a sign-in landing between the two.
  test('a sign-in landing after any statement of the link’s transaction keeps no session', async () => {
    const outcomes: string[] = [];
    for (let at = 1; ; at++) {
      const who = `step-${at}@example.test`;
      const { id, token } = await userWithLink(who);
      let statements = 0;
      let attempt: Promise<unknown> | undefined;
      const hooked = (tx: Queryable): Queryable => ({
        query: async <T>(sql: string, params?: readonly unknown[]) => {
          const result = await tx.query<T>(sql, params);
          if (++statements === at) {
            attempt = signIn(app.ctx, who, OLD);
            await untilSettledOrBlockedBy(tx, attempt);
          }
          return result;
        },
        exec: (sql: string) => tx.exec(sql),
      });
      const linkDb: Db = {
        kind: app.db.kind,
        query: <T>(sql: string, params?: readonly unknown[]) => app.db.query<T>(sql, params),
        exec: (sql: string) => app.db.exec(sql),
        transaction: (fn) => app.db.transaction((tx) => fn(hooked(tx))),
        ping: () => app.db.ping(),
        close: async () => {},
      };
      await redeemLink({ ...app.ctx, db: linkDb }, token, { password: NEW, confirm: NEW });
      if (!attempt) break; // the transaction had fewer statements: every position was tried
      const outcome = await attempt.then(
        () => 'signed in',
        (err: unknown) => err,
      );
      assert.ok(outcome === 'signed in' || outcome instanceof UnauthorizedError, `after statement ${at}: ${String(outcome)}`);
      assert.equal(await sessionsOf(id), 0, `after statement ${at}: a session opened with the old password survived`);
      outcomes.push(outcome === 'signed in' ? 'signed in, then ended' : 'refused');
    }
    // Both cases were met: sign-ins before the new password was written, and sign-ins that had to wait for it.
    assert.ok(outcomes.length >= 4, `the link's transaction had ${outcomes.length} statements`);
    assert.ok(outcomes.includes('signed in, then ended') && outcomes.includes('refused'), outcomes.join(', '));
  });

  // The link page signs its user in with the password it just set, in a session written after the link's commit. A
  // newer link used in between ended every session and set another password: the first page must not open one now.
  test('a link page whose password was replaced before its session opened signs nobody in', async () => {
    const who = 'two-links@example.test';
    const { id, token } = await userWithLink(who);
    const THIRD = 'a-third-password-Hn48';
    let newer: string | null | undefined;
    const first = await redeemLinkAndSignIn(app.ctx, token, { password: NEW, confirm: NEW }, async () => {
      const url = await createOneTimeLink(app.ctx, 'set_password', id);
      newer = (await redeemLinkAndSignIn(app.ctx, new URL(url).searchParams.get('token')!, { password: THIRD, confirm: THIRD })).cookie;
    });
    assert.equal(first.userId, id);
    assert.equal(first.cookie, null, 'no session for the password the newer link replaced');
    assert.equal((await resolveSession(app.ctx, newer!))?.user.id, id, 'the newer link signed its page in');
    assert.equal(await sessionsOf(id), 1);
    await assert.rejects(signIn(app.ctx, who, NEW), (err: unknown) => err instanceof UnauthorizedError);

    // Undisturbed, the page is signed in with its password.
    const calm = await userWithLink('one-link@example.test');
    const signedIn = await redeemLinkAndSignIn(app.ctx, calm.token, { password: NEW, confirm: NEW });
    assert.equal((await resolveSession(app.ctx, signedIn.cookie!))?.user.id, calm.id);
  });

  test('a link page whose user was deleted before its session opened signs nobody in, without an error', async () => {
    const { id, token } = await userWithLink('removed@example.test');
    const outcome = await redeemLinkAndSignIn(app.ctx, token, { password: NEW, confirm: NEW }, async () => {
      await app.db.query('DELETE FROM users WHERE id = $1', [id]);
    });
    assert.deepEqual(outcome, { userId: id, cookie: null });
    assert.equal(await sessionsOf(id), 0);
  });

  test('the sign-in page says why a link page sent it there', async () => {
    const page = await fetch(`${app.url}/login?changed=1`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Your password was set, but the account changed again before you were signed in/);
  });

  test('a user deleted between the check and the session gets no session and a clear refusal', async () => {
    const gone = (await createUser(app.ctx, { kind: 'admin' }, { email: 'gone@example.test', password: OLD, role: 'admin' })).user.id;
    const attempt = signInWhileHeld('gone@example.test', OLD, (tx) => tx.query('DELETE FROM users WHERE id = $1', [gone]).then(() => {}));
    await assert.rejects(attempt, (err: unknown) => err instanceof UnauthorizedError);
  });
});
