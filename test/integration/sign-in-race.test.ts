// A sign-in checks the password outside any transaction (it takes tens of milliseconds). A password set meanwhile
// (a set-password link: new hash, every session of the user ended, in one transaction) must not leave behind a
// session opened with the old password.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queryable } from '../../src/db/port.js';
import { UnauthorizedError } from '../../src/errors.js';
import { hashPassword } from '../../src/lib/password.js';
import { createUser } from '../../src/services/users/create-user.js';
import { signIn } from '../../src/services/users/sessions.js';
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

  test('a user deleted between the check and the session gets no session and a clear refusal', async () => {
    const gone = (await createUser(app.ctx, { kind: 'admin' }, { email: 'gone@example.test', password: OLD, role: 'admin' })).user.id;
    const attempt = signInWhileHeld('gone@example.test', OLD, (tx) => tx.query('DELETE FROM users WHERE id = $1', [gone]).then(() => {}));
    await assert.rejects(attempt, (err: unknown) => err instanceof UnauthorizedError);
  });
});
