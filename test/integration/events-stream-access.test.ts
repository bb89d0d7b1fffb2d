// The events page's live tail is a long-lived answer: what ends a person's access to a workspace must end their
// open tail of it too, not only signing out. Removed from the workspace, a member kept receiving its events (with
// customers' emails and names) for as long as the browser kept the tail open.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tailSessionCheck } from '../../src/console/pages/events-stream.js';
import { openSession } from '../../src/services/users/sessions.js';
import { removeFromWorkspace } from '../../src/services/users/manage-users.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { makeUser } from '../helpers/browser.js';

/** Reads the stream until it ends or `ms` pass; true when it ended. */
async function endsWithin(body: ReadableStream<Uint8Array>, ms: number): Promise<boolean> {
  const reader = body.getReader();
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const next = await Promise.race([
        reader.read(),
        new Promise<'wait'>((resolve) => setTimeout(() => resolve('wait'), Math.max(1, deadline - Date.now()))),
      ]);
      if (next === 'wait') return false;
      if (next.done) return true;
    }
    return false;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe('the live tail of events', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
    // The rule, not its period, is under test: a check every half second rather than every 15.
    tailSessionCheck.ms = 500;
  });
  after(() => app.close());

  test('ends once its viewer is removed from the workspace, though their session goes on', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'tail access' })).body.id as string;
    const other = (await app.api('POST', '/api/v1/workspaces', { name: 'kept' })).body.id as string;
    const user = await makeUser(app, 'member', [ws, other]);
    const { cookie } = await openSession(app.ctx, user.id);
    const headers = { cookie: `sluice_session=${encodeURIComponent(cookie)}`, accept: 'text/event-stream' };
    const res = await fetch(`${app.url}/workspaces/${ws}/events/stream`, { headers });
    assert.equal(res.status, 200);

    await removeFromWorkspace(app.ctx, { kind: 'admin' }, ws, user.id);
    // The session is still good (another workspace opens), and the tail is checked every half second here.
    assert.equal((await fetch(`${app.url}/workspaces/${other}/overview`, { headers, redirect: 'manual' })).status, 200);
    assert.ok(await endsWithin(res.body!, 10_000), 'the tail of a workspace the user was removed from is still open');
  });
});
