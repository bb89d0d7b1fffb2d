// sendEmail against a local SMTP server: delivery with its reply, the address policy before any connection,
// replies judged (4xx again, 5xx final), a server that never greets given up on in bounded time, and the
// password absent from whatever comes back.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startSmtpServer, type SmtpTestServer } from '../../test/helpers/smtp.js';
import { createAddressPolicy } from './address-policy.js';
import { replyCode, scrubPassword, sendEmail, type OutgoingEmail, type SmtpServer } from './smtp.js';

const LOOPBACK = createAddressPolicy([{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }]);
const PUBLIC_ONLY = createAddressPolicy([]);
const PASSWORD = 'smtp-Pa55word-never-shown';

const email = (over: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  from: 'Shop <shop@example.com>',
  to: ['ann@example.com'],
  cc: [],
  bcc: ['audit@example.com'],
  replyTo: null,
  subject: 'Hello',
  text: 'Hello Ann',
  html: null,
  messageId: '<wfr_1.mail@example.com>',
  ...over,
});

describe('sendEmail', () => {
  let smtp: SmtpTestServer;
  let server: SmtpServer;
  before(async () => {
    smtp = await startSmtpServer({
      login: { user: 'mailer', password: PASSWORD },
      rcpt: (a) => (a === 'gone@example.com' ? 550 : a === 'later@example.com' ? 451 : null),
    });
    server = { host: '127.0.0.1', port: smtp.port, security: 'none', user: 'mailer', password: PASSWORD };
  });
  after(() => smtp.close());

  test('delivers with a login: the reply, accepted recipients, the Message-ID given, no Bcc header', async () => {
    const r = await sendEmail(server, email(), { policy: LOOPBACK, timeoutMs: 2000 });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.code, 250);
    assert.deepEqual(r.accepted.sort(), ['ann@example.com', 'audit@example.com']);
    assert.equal(r.messageId, '<wfr_1.mail@example.com>');
    const mail = smtp.mails.at(-1)!;
    assert.deepEqual(mail.rcptTo.sort(), ['ann@example.com', 'audit@example.com']);
    assert.equal(mail.headers['message-id'], '<wfr_1.mail@example.com>');
    assert.equal(mail.headers.bcc, undefined);
    assert.deepEqual(smtp.logins.at(-1), { user: 'mailer', ok: true });
  });

  test('one recipient refused with 550: delivered to the others, the refusal listed', async () => {
    const r = await sendEmail(server, email({ to: ['ann@example.com', 'gone@example.com'], bcc: [] }), {
      policy: LOOPBACK,
      timeoutMs: 2000,
    });
    assert.ok(r.ok);
    assert.deepEqual(r.rejected, ['gone@example.com']);
  });

  test('every recipient refused: 550 is final, 451 is worth another attempt', async () => {
    const gone = await sendEmail(server, email({ to: ['gone@example.com'], bcc: [] }), { policy: LOOPBACK, timeoutMs: 2000 });
    assert.ok(!gone.ok);
    assert.equal(gone.code, 550);
    assert.equal(gone.transient, false);
    const later = await sendEmail(server, email({ to: ['later@example.com'], bcc: [] }), { policy: LOOPBACK, timeoutMs: 2000 });
    assert.ok(!later.ok);
    assert.equal(later.code, 451);
    assert.equal(later.transient, true);
  });

  test('a wrong password: 535 is final and the answer holds no password', async () => {
    const r = await sendEmail({ ...server, password: `${PASSWORD}-old` }, email(), { policy: LOOPBACK, timeoutMs: 2000 });
    assert.ok(!r.ok);
    assert.equal(r.code, 535);
    assert.equal(r.transient, false);
    assert.ok(!JSON.stringify(r).includes(PASSWORD));
  });

  test('the address policy is applied before connecting: a literal address and a name resolving to one', async () => {
    const before = smtp.mails.length + smtp.logins.length;
    const literal = await sendEmail(server, email(), { policy: PUBLIC_ONLY, timeoutMs: 2000 });
    assert.ok(!literal.ok && literal.blocked && !literal.transient);
    assert.match(literal.error, /loopback address/);
    const named = await sendEmail({ ...server, host: 'mail.example.com' }, email(), {
      policy: PUBLIC_ONLY,
      timeoutMs: 2000,
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    assert.ok(!named.ok && named.blocked);
    assert.match(named.error, /mail\.example\.com resolves to 127\.0\.0\.1/);
    assert.equal(smtp.mails.length + smtp.logins.length, before, 'nothing reached the server');
  });

  test('a server that never greets is given up on, as a transient failure', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const r = await sendEmail({ ...server, port, user: null, password: null }, email(), { policy: LOOPBACK, timeoutMs: 300 });
      assert.ok(!r.ok);
      assert.equal(r.transient, true);
      assert.equal(r.code, null);
      assert.match(r.error, /ETIMEDOUT|greeting|timed out|took longer/i);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a port nobody listens on is a transient failure', async () => {
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const r = await sendEmail({ ...server, port }, email(), { policy: LOOPBACK, timeoutMs: 1000 });
    assert.ok(!r.ok && r.transient && r.code === null, JSON.stringify(r));
  });
});

test('reply codes and the password scrubbed in every form it travels in', () => {
  assert.equal(replyCode('250 2.0.0 OK: queued as 123'), 250);
  assert.equal(replyCode('451-4.7.1 greylisted'), 451);
  assert.equal(replyCode('hello'), null);
  const auth = Buffer.from(`\0mailer\0${PASSWORD}`).toString('base64');
  const text = `AUTH PLAIN ${auth} / ${PASSWORD} / ${Buffer.from(PASSWORD).toString('base64')}`;
  const scrubbed = scrubPassword(text, { user: 'mailer', password: PASSWORD });
  assert.ok(!scrubbed.includes(PASSWORD) && !scrubbed.includes(auth), scrubbed);
  assert.equal(scrubbed.split('[password]').length, 4);
});
