// Email steps end to end: the workspace's SMTP settings (every problem in one 422, the password sealed, never
// returned, kept when left out, admin only, audited), delivery to a local SMTP server with the rendered message
// and a Message-ID of <runId.stepId@…>, a 451 retried with the same Message-ID, a 550 failing at once, a
// workspace without settings failing with what to do, dry runs that send nothing, the course-purchase template
// applied as shipped, and the console's Email (SMTP) form (posted as a browser would, with its session and CSRF
// token).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../../src/services/users/create-user.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startSmtpServer, type SmtpTestServer } from '../helpers/smtp.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];
const PASSWORD = 'smtp-Pa55word-of-the-test';
const SECRET = 'whsec_workflow_email_secret';
const T0 = Math.floor(Date.now() / 1000) - 3600;

describe('workflow email', () => {
  let app: TestApp;
  const servers: SmtpTestServer[] = [];
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK, workflowRetryBaseMs: 100, outboundTimeoutMs: 3000 } });
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await app.close();
  });

  const call = (method: string, ws: string, path: string, body?: unknown, token?: string) =>
    app.api(method, `/api/v1/workspaces/${ws}${path}`, body, token);
  const get = async (ws: string, path: string) => (await call('GET', ws, path)).body;
  const workspace = async (name: string) => (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
  async function smtpServer(behaviour: Parameters<typeof startSmtpServer>[0] = {}) {
    const s = await startSmtpServer(behaviour);
    servers.push(s);
    return s;
  }
  const settingsFor = (port: number, extra: Record<string, unknown> = {}) => ({
    host: '127.0.0.1',
    port,
    security: 'none',
    from: 'Sluice Shop <shop@example.com>',
    ...extra,
  });
  async function create(ws: string, definition: unknown): Promise<string> {
    const res = await call('POST', ws, '/workflows', definition);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  const mailWorkflow = (step: Record<string, unknown> = {}) => ({
    name: 'Enrolled',
    trigger: { type: 'course.enrolled' },
    steps: [
      {
        id: 'mail',
        kind: 'email',
        to: '{{ event.email }}',
        subject: 'Welcome to {{ event.course }}',
        text: 'Hello {{ event.name }}, your course {{ event.course }} is ready.',
        ...step,
      },
    ],
  });
  const enrolled = (ws: string, data: Record<string, unknown> = {}) =>
    call('POST', ws, '/events', { type: 'course.enrolled', data: { email: 'ann@example.com', name: 'Ann', course: 'c101', ...data } });
  async function onlyRun(ws: string, wf: string) {
    const [run] = await waitFor(async () => {
      const r = (await get(ws, `/workflows/${wf}/runs`)).data as any[];
      return r.length === 1 && ['succeeded', 'failed'].includes(r[0].status) ? r : null;
    }, 'the run to finish');
    return get(ws, `/runs/${run.id}`);
  }

  test('SMTP settings: every problem in one 422, the password never returned and kept when left out, admin only, audited', async () => {
    const ws = await workspace('settings');
    const none = await call('GET', ws, '/settings/email');
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'EMAIL_SETTINGS_NOT_FOUND');
    assert.match(none.body.error.message, /no SMTP settings for this workspace: PUT \/api\/v1\/workspaces\/ws_\w+\/settings\/email/);

    const bad = await call('PUT', ws, '/settings/email', {
      host: 'smtp://mail.example.com',
      port: 70000,
      security: 'ssl',
      user: 'mailer',
      from: 'shop.example.com',
      replyTo: 'help@example',
      extra: true,
    });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
    assert.deepEqual(bad.body.error.problems.map((p: any) => p.path).sort(), [
      'extra',
      'from',
      'host',
      'password',
      'port',
      'replyTo',
      'security',
    ]);
    assert.equal((await call('GET', ws, '/settings/email')).status, 404, 'nothing saved');

    const put = await call(
      'PUT',
      ws,
      '/settings/email',
      settingsFor(2525, { user: 'mailer', password: PASSWORD, replyTo: 'help@example.com' }),
    );
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(
      { ...put.body, createdAt: undefined, updatedAt: undefined },
      {
        host: '127.0.0.1',
        port: 2525,
        security: 'none',
        user: 'mailer',
        passwordSet: true,
        from: 'Sluice Shop <shop@example.com>',
        replyTo: 'help@example.com',
        createdAt: undefined,
        updatedAt: undefined,
      },
    );
    // Put back as read (without the password): the stored one is kept.
    const again = await call('PUT', ws, '/settings/email', { ...(await get(ws, '/settings/email')), port: 2526 });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.passwordSet, true);
    assert.equal(again.body.port, 2526);

    const sealed = (await app.db.query<any>('SELECT password_sealed FROM email_settings WHERE workspace_id = $1', [ws])).rows[0];
    assert.ok(sealed.password_sealed && !sealed.password_sealed.includes(PASSWORD), 'sealed at rest');
    assert.equal(app.ctx.secretBox.open(sealed.password_sealed), PASSWORD);

    const member = (await call('POST', ws, '/api-keys', { name: 'member', role: 'member' })).body.key as string;
    assert.equal((await call('PUT', ws, '/settings/email', settingsFor(25), member)).status, 403);
    assert.equal((await call('DELETE', ws, '/settings/email', undefined, member)).status, 403);
    assert.equal((await call('GET', ws, '/settings/email', undefined, member)).body.passwordSet, true);

    // Defaults by port and security.
    const ws2 = await workspace('settings-defaults');
    const def = await call('PUT', ws2, '/settings/email', { host: 'smtp.example.com', from: 'a@example.com' });
    assert.deepEqual([def.body.port, def.body.security, def.body.passwordSet], [587, 'starttls', false]);
    const tls = await call('PUT', ws2, '/settings/email', { host: 'smtp.example.com', port: 465, from: 'a@example.com' });
    assert.equal(tls.body.security, 'tls');

    const audit = (await get(ws, '/audit-log')).data.filter((a: any) => a.action.startsWith('email.settings'));
    assert.deepEqual(audit.map((a: any) => [a.action, a.detail.password]).reverse(), [
      ['email.settings.saved', 'set'],
      ['email.settings.saved', 'kept'],
    ]);
    assert.ok(!JSON.stringify(audit).includes(PASSWORD));

    assert.equal((await call('DELETE', ws, '/settings/email')).status, 204);
    assert.equal((await call('GET', ws, '/settings/email')).status, 404);
    assert.equal((await call('DELETE', ws, '/settings/email')).status, 404);
    assert.equal((await get(ws, '/audit-log')).data[0].action, 'email.settings.removed');
  });

  test('an email step delivers the rendered message through the workspace SMTP server, with a login and one Message-ID', async () => {
    const smtp = await smtpServer({ login: { user: 'mailer', password: PASSWORD } });
    const ws = await workspace('deliver');
    assert.equal((await call('PUT', ws, '/settings/email', settingsFor(smtp.port, { user: 'mailer', password: PASSWORD }))).status, 200);
    const wf = await create(
      ws,
      mailWorkflow({ cc: ['Team <team@example.com>'], html: '<p>Hello <b>{{ event.name }}</b></p>', replyTo: 'help@example.com' }),
    );
    assert.equal((await enrolled(ws)).status, 201);
    const run = await onlyRun(ws, wf);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));

    assert.equal(smtp.mails.length, 1);
    const mail = smtp.mails[0]!;
    assert.equal(mail.mailFrom, 'shop@example.com');
    assert.deepEqual(mail.rcptTo.sort(), ['ann@example.com', 'team@example.com']);
    assert.equal(mail.headers.subject, 'Welcome to c101');
    assert.equal(mail.headers.to, 'ann@example.com');
    assert.equal(mail.headers['reply-to'], 'help@example.com');
    assert.equal(mail.headers['message-id'], `<${run.id}.mail@example.com>`);
    assert.ok(mail.raw.includes('Hello Ann, your course c101 is ready.'), mail.raw);
    assert.ok(mail.raw.includes('<p>Hello <b>Ann</b></p>'), mail.raw);
    assert.deepEqual(smtp.logins, [{ user: 'mailer', ok: true }]);

    const [step] = run.steps;
    assert.equal(step.input.messageId, `<${run.id}.mail@example.com>`, 'the Message-ID is frozen with the input');
    assert.equal(step.output.messageId, `<${run.id}.mail@example.com>`);
    assert.deepEqual(step.output.accepted.sort(), ['ann@example.com', 'team@example.com']);
    assert.deepEqual(step.output.rejected, []);
    assert.match(step.output.response, /^250/);
    assert.deepEqual(
      step.attempts.map((a: any) => [a.attempt, a.statusCode, a.ok]),
      [[1, 250, true]],
    );
    assert.match(step.attempts[0].responseExcerpt, /^250/);
    assert.ok(!JSON.stringify(run).includes(PASSWORD));
  });

  test('a server answering 451 twice: the step succeeds on its third attempt, with one Message-ID', async () => {
    const smtp = await smtpServer({ data: (n) => (n <= 2 ? 451 : null) });
    const ws = await workspace('greylisted');
    await call('PUT', ws, '/settings/email', settingsFor(smtp.port));
    const wf = await create(ws, mailWorkflow({ retry: { max: 3, backoff: 'fixed' } }));
    await enrolled(ws);
    const run = await onlyRun(ws, wf);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    const [step] = run.steps;
    assert.deepEqual(
      step.attempts.map((a: any) => [a.statusCode, a.ok]),
      [
        [451, false],
        [451, false],
        [250, true],
      ],
    );
    assert.match(step.attempts[0].responseExcerpt, /^451/);
    assert.equal(smtp.mails.length, 3);
    assert.deepEqual(
      smtp.mails.map((m) => m.accepted),
      [false, false, true],
    );
    assert.deepEqual([...new Set(smtp.mails.map((m) => m.headers['message-id']))], [`<${run.id}.mail@example.com>`]);
  });

  test('a 550 for the recipient fails the step at once; the retried run sends the frozen message, Message-ID and all', async () => {
    let refuse = true;
    const smtp = await smtpServer({ rcpt: (a) => (refuse && a === 'gone@example.com' ? 550 : null) });
    const ws = await workspace('rejected');
    await call('PUT', ws, '/settings/email', settingsFor(smtp.port));
    const wf = await create(ws, mailWorkflow({ retry: { max: 5, backoff: 'fixed' } }));
    await enrolled(ws, { email: 'gone@example.com' });
    const run = await onlyRun(ws, wf);
    assert.equal(run.status, 'failed');
    assert.match(run.error, /step mail: SMTP 550/);
    const [step] = run.steps;
    assert.equal(step.status, 'failed');
    assert.deepEqual(
      step.attempts.map((a: any) => a.statusCode),
      [550],
    );
    assert.equal(smtp.mails.length, 0);

    // The sender changes meanwhile; the retried run keeps the Message-ID frozen at the first attempt.
    refuse = false;
    await call('PUT', ws, '/settings/email', settingsFor(smtp.port, { from: 'Other <news@other.example.org>' }));
    assert.equal((await call('POST', ws, `/runs/${run.id}/retry`)).status, 200);
    await waitFor(async () => (await get(ws, `/runs/${run.id}`)).status === 'succeeded', 'the retried run');
    assert.equal(smtp.mails.length, 1);
    assert.equal(smtp.mails[0]!.headers['message-id'], `<${run.id}.mail@example.com>`);
    assert.equal(smtp.mails[0]!.headers.from, 'Other <news@other.example.org>');
  });

  test('without SMTP settings the step fails at once, saying what to do; a retried run sends once they exist', async () => {
    const smtp = await smtpServer();
    const ws = await workspace('unconfigured');
    const wf = await create(ws, mailWorkflow());
    await enrolled(ws);
    const run = await onlyRun(ws, wf);
    assert.equal(run.status, 'failed');
    const [step] = run.steps;
    assert.match(step.error, new RegExp(`^no SMTP settings for this workspace: PUT /api/v1/workspaces/${ws}/settings/email`));
    assert.equal(step.attempts.length, 0);

    await call('PUT', ws, '/settings/email', settingsFor(smtp.port));
    assert.equal((await call('POST', ws, `/runs/${run.id}/retry`)).status, 200);
    await waitFor(async () => (await get(ws, `/runs/${run.id}`)).status === 'succeeded', 'the retried run');
    assert.equal(smtp.mails.length, 1);
    assert.equal(smtp.mails[0]!.headers['message-id'], `<${run.id}.mail@example.com>`);
  });

  test('a definition with a bad email step is refused with every problem', async () => {
    const ws = await workspace('invalid');
    const res = await call('POST', ws, '/workflows', {
      name: 'bad mail',
      trigger: { type: 'course.enrolled' },
      steps: [{ id: 'mail', kind: 'email', to: ['ann@example', '{{ event.email }}'], from: 'shop', subject: 'Hi', body: 'x' }],
    });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.error.problems.map((p: any) => p.path).sort(), [
      'steps[0]',
      'steps[0].body',
      'steps[0].from',
      'steps[0].to[0]',
    ]);
  });

  test('a dry run renders the email it would send and sends nothing', async () => {
    const smtp = await smtpServer();
    const ws = await workspace('dry');
    const wf = await create(ws, mailWorkflow({ html: '<p>{{ event.name }}</p>' }));
    const payload = { email: 'ann@example.com', name: 'Ann', course: 'c101' };
    const unconfigured = await call('POST', ws, `/workflows/${wf}/test`, { payload });
    assert.equal(unconfigured.status, 200, JSON.stringify(unconfigured.body));
    const [u] = unconfigured.body.steps;
    assert.equal(u.status, 'error');
    assert.match(u.error, /no SMTP settings/);
    assert.deepEqual(u.email.to, ['ann@example.com']);

    await call('PUT', ws, '/settings/email', settingsFor(smtp.port));
    const res = await call('POST', ws, `/workflows/${wf}/test`, { payload });
    const [d] = res.body.steps;
    assert.equal(d.status, 'would_run', JSON.stringify(d));
    assert.deepEqual(d.email, {
      from: 'Sluice Shop <shop@example.com>',
      to: ['ann@example.com'],
      subject: 'Welcome to c101',
      text: 'Hello Ann, your course c101 is ready.',
      html: '<p>Ann</p>',
      messageId: '<wfr_dry_run.mail@example.com>',
    });
    assert.equal(d.would, 'would email ann@example.com: "Welcome to c101"');
    assert.equal(res.body.sent, false);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(smtp.mails.length, 0);
    assert.equal((await get(ws, `/workflows/${wf}/runs`)).data.length, 0);
  });

  test('the course-purchase template as shipped: a paid checkout grants the course and emails the buyer', async () => {
    const smtp = await smtpServer();
    const ws = await workspace('template');
    assert.equal((await call('PUT', ws, '/connections/stripe', { webhookSecrets: [SECRET] })).status, 200);
    await call('PUT', ws, '/settings/email', settingsFor(smtp.port));
    const definition = JSON.parse(readFileSync(new URL('../../templates/workflows/course-purchase.json', import.meta.url), 'utf8'));
    const wf = await create(ws, definition);
    const send = async (payload: string) => {
      const res = await postStripe(app.url, ws, payload, signStripe(payload, SECRET));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await send(stripeEvent('customer.created', { id: 'cus_buyer', email: 'buyer@example.com' }, { created: T0 }));
    await send(
      stripeEvent(
        'checkout.session.completed',
        {
          id: 'cs_course',
          object: 'checkout.session',
          customer: 'cus_buyer',
          customer_details: { email: 'buyer@example.com', name: 'Bea Buyer' },
          payment_status: 'paid',
          status: 'complete',
          mode: 'payment',
          amount_total: 9900,
          currency: 'eur',
          metadata: { course: 'typescript-101' },
        },
        { created: T0 + 10 },
      ),
    );
    const run = await onlyRun(ws, wf);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    const access = (await get(ws, '/access')).data.filter((a: any) => a.provider === 'workflows');
    assert.deepEqual(
      access.map((a: any) => [a.resource, a.status]),
      [['typescript-101', 'active']],
    );
    assert.equal(smtp.mails.length, 1);
    const mail = smtp.mails[0]!;
    assert.deepEqual(mail.rcptTo, ['buyer@example.com']);
    assert.equal(mail.headers.subject, 'Your course is ready');
    assert.ok(mail.raw.includes('Your access to typescript-101 is open now.'), mail.raw);
    assert.equal(mail.headers['message-id'], `<${run.id}.receipt@example.com>`);
  });

  /** A console session for a new user, signed in through the login form, and the CSRF token of the settings page. */
  async function consoleSession(ws: string, role: 'admin' | 'viewer') {
    const email = `${role}-${Date.now()}@example.test`;
    const password = `pw-${role}-long-enough-for-the-test`;
    await createUser(app.ctx, { kind: 'admin' }, { email, password, role, workspaces: [ws] });
    const form = await fetch(`${app.url}/login`);
    const pre = form.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const preCsrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const res = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre },
      body: new URLSearchParams({ _csrf: preCsrf, email, password, next: '/' }),
    });
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('sluice_session='))!;
    assert.ok(cookie, 'signed in');
    const page = async () => {
      const r = await fetch(`${app.url}/workspaces/${ws}/settings`, { headers: { cookie } });
      assert.equal(r.status, 200);
      return r.text();
    };
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page())?.[1] ?? '';
    const post = async (path: string, fields: Record<string, string>) => {
      const r = await fetch(`${app.url}/workspaces/${ws}/settings${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
      });
      return { status: r.status, location: r.headers.get('location'), html: await r.text() };
    };
    return { page, post };
  }

  test('the console form: an admin saves the SMTP settings (problems next to their inputs, the password never shown); a viewer cannot', async () => {
    const ws = await workspace('console');
    const admin = await consoleSession(ws, 'admin');
    assert.match(await admin.page(), /<h2 id="email">Email \(SMTP\)<\/h2>[\s\S]*none: email steps fail until one is saved/);

    const bad = await admin.post('/email', {
      smtpHost: 'smtp://mail.example.com',
      smtpPort: 'abc',
      smtpFrom: 'nope',
      smtpPassword: PASSWORD,
    });
    assert.equal(bad.status, 400);
    for (const input of ['smtpHost', 'smtpPort', 'smtpFrom', 'smtpUser'])
      assert.match(bad.html, new RegExp(`id="f-${input}-error"`), `a problem next to ${input}`);
    assert.match(bad.html, /value="smtp:\/\/mail.example.com"/, 'what was typed is kept');
    assert.ok(!bad.html.includes(PASSWORD), 'but never the password');
    assert.equal((await call('GET', ws, '/settings/email')).status, 404, 'nothing saved');

    const saved = await admin.post('/email', {
      smtpHost: '127.0.0.1',
      smtpPort: '2525',
      smtpSecurity: 'none',
      smtpUser: 'mailer',
      smtpPassword: PASSWORD,
      smtpFrom: 'Shop <shop@example.com>',
      smtpReplyTo: '',
    });
    assert.equal(saved.status, 303, saved.html);
    assert.equal(saved.location, `/workspaces/${ws}/settings?saved=email`);
    const view = (await call('GET', ws, '/settings/email')).body;
    assert.deepEqual(
      [view.host, view.port, view.security, view.user, view.passwordSet, view.replyTo],
      ['127.0.0.1', 2525, 'none', 'mailer', true, null],
    );
    const html = await admin.page();
    assert.match(html, /127\.0\.0\.1:2525/);
    assert.match(html, /mailer \(password stored\)/);
    assert.ok(!html.includes(PASSWORD));

    // The form sent again without a password keeps the stored one.
    assert.equal(
      (await admin.post('/email', { smtpHost: '127.0.0.1', smtpPort: '2526', smtpUser: 'mailer', smtpFrom: 'shop@example.com' })).status,
      303,
    );
    const kept = (await call('GET', ws, '/settings/email')).body;
    assert.deepEqual([kept.port, kept.security, kept.passwordSet], [2526, 'starttls', true]);

    const viewer = await consoleSession(ws, 'viewer');
    const viewerPage = await viewer.page();
    assert.match(viewerPage, /127\.0\.0\.1:2526/);
    assert.ok(!viewerPage.includes(`action="/workspaces/${ws}/settings/email"`), 'no form for a viewer');
    assert.equal((await viewer.post('/email', { smtpHost: 'evil.example.com', smtpFrom: 'a@example.com' })).status, 403);
    assert.equal((await viewer.post('/email/remove', {})).status, 403);

    const removed = await admin.post('/email/remove', {});
    assert.equal(removed.status, 303);
    assert.equal((await call('GET', ws, '/settings/email')).status, 404);
  });
});
