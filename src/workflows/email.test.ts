// Email steps without a network: the definition checks (literal addresses, required fields, unknown fields), the
// message built from a rendered input (recipients checked once rendered, defaults, one Message-ID), address
// syntax, and the SMTP settings parser (every problem at once, defaults by port, the password kept or removed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressProblem, domainOf, parseAddress } from '../outbound/email-address.js';
import { parseSmtpSettings } from '../outbound/smtp-settings.js';
import { validateDefinition } from './definition.js';
import { buildEmail, emailPreview, EmailInputError } from './email.js';

const workflow = (step: Record<string, unknown>) => ({
  name: 'Mail',
  trigger: { type: 'course.enrolled' },
  steps: [{ id: 'mail', kind: 'email', ...step }],
});
const problems = (step: Record<string, unknown>) => {
  const r = validateDefinition(workflow(step), { customTypes: ['course.enrolled'] });
  return r.ok ? [] : r.problems;
};

describe('email step definitions', () => {
  test('a full step is valid; templates in addresses are left for the run', () => {
    assert.deepEqual(
      problems({
        to: ['{{ event.email }}', 'Team <team@example.com>'],
        cc: 'boss@example.com',
        bcc: ['{{ customer.email }}'],
        from: 'Shop <shop@example.com>',
        replyTo: '{{ event.replyTo }}',
        subject: 'Welcome {{ event.name }}',
        text: 'Hello',
        html: '<p>Hello</p>',
      }),
      [],
    );
  });

  test('every problem is listed with its path', () => {
    const found = problems({ to: ['ann@example', 'ok@example.com', 7], cc: [], from: 'shop.example.com', subject: '', extra: 1 });
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    assert.deepEqual(Object.keys(byPath).sort(), [
      'steps[0]',
      'steps[0].cc',
      'steps[0].extra',
      'steps[0].from',
      'steps[0].subject',
      'steps[0].to[0]',
      'steps[0].to[2]',
    ]);
    assert.match(byPath['steps[0]']!, /text, html or both/);
    assert.match(byPath['steps[0].to[0]']!, /"ann@example" is not an email address/);
    assert.match(byPath['steps[0].extra']!, /its fields are to, subject, text, html, cc, bcc, replyTo, from/);
  });

  test('to and subject are required; two addresses in one string are named as such', () => {
    const paths = problems({ text: 'x' }).map((p) => p.path);
    assert.deepEqual(paths.sort(), ['steps[0].subject', 'steps[0].to']);
    const [two] = problems({ to: 'a@example.com, b@example.com', subject: 's', text: 'x' });
    assert.match(two!.message, /more than one address; give a list/);
  });

  test('secrets are refused in email fields', () => {
    const [p] = problems({ to: 'a@example.com', subject: 's', text: 'key {{ secrets.TOKEN }}' });
    assert.equal(p!.path, 'steps[0].text');
    assert.match(p!.message, /only in URLs and headers/);
  });
});

describe('buildEmail', () => {
  const defaults = { from: 'Shop <shop@example.com>', replyTo: 'help@example.com' };
  const ids = { runId: 'wfr_01abc', stepId: 'mail' };

  test('fills in the sender and reply-to; the Message-ID is the run and step at the sender’s domain', () => {
    const email = buildEmail({ to: 'ann@example.com', subject: 'Hi', text: 'Hello' }, defaults, ids);
    assert.deepEqual(email, {
      from: 'Shop <shop@example.com>',
      to: ['ann@example.com'],
      cc: [],
      bcc: [],
      replyTo: 'help@example.com',
      subject: 'Hi',
      text: 'Hello',
      html: null,
      messageId: '<wfr_01abc.mail@example.com>',
    });
    const own = buildEmail({ to: ['a@example.com'], from: 'news@letters.example.org', subject: 'Hi', html: '<p>x</p>' }, defaults, ids);
    assert.equal(own.from, 'news@letters.example.org');
    assert.equal(own.messageId, '<wfr_01abc.mail@letters.example.org>');
  });

  test('a step executed again by a rerun is a new message: its Message-ID carries the rerun', () => {
    const first = buildEmail({ to: 'ann@example.com', subject: 'Hi', text: 'Hello' }, defaults, { ...ids, rerun: null });
    const rerun = buildEmail({ to: 'ann@example.com', subject: 'Hi', text: 'Hello' }, defaults, { ...ids, rerun: 2 });
    assert.equal(first.messageId, '<wfr_01abc.mail@example.com>');
    assert.equal(rerun.messageId, '<wfr_01abc.mail.2@example.com>');
  });

  test('rendered values are checked: a bad address names its field, a line break never makes a header', () => {
    assert.throws(() => buildEmail({ to: ['a@example.com', 'nope'], subject: 's', text: 'x' }, defaults, ids), /to\[1\]: "nope"/);
    assert.throws(() => buildEmail({ to: null, subject: 's', text: 'x' }, defaults, ids), EmailInputError);
    assert.throws(() => buildEmail({ to: 'a@example.com', subject: ' ', text: 'x' }, defaults, ids), /subject rendered to nothing/);
    assert.throws(() => buildEmail({ to: 'a@example.com', subject: 's' }, defaults, ids), /needs a body/);
    const many = Array.from({ length: 51 }, (_, i) => `p${i}@example.com`);
    assert.throws(() => buildEmail({ to: many, subject: 's', text: 'x' }, defaults, ids), /at most 50/);
    const e = buildEmail({ to: 'a@example.com', subject: 'Hi\r\nBcc: evil@example.com', text: 'x' }, defaults, ids);
    assert.equal(e.subject, 'Hi Bcc: evil@example.com');
  });

  test('a preview cuts the bodies', () => {
    const p = emailPreview(buildEmail({ to: 'a@example.com', subject: 's', text: 'x'.repeat(600) }, defaults, ids));
    assert.equal(p.text!.length, 501);
    assert.equal(p.html, null);
  });
});

describe('addresses', () => {
  test('plain and named addresses; typos refused', () => {
    assert.deepEqual(parseAddress('ann@example.com'), { address: 'ann@example.com', name: null });
    assert.deepEqual(parseAddress('"Ann B." <ann+x@mail.example.co.uk>'), { address: 'ann+x@mail.example.co.uk', name: 'Ann B.' });
    assert.deepEqual(parseAddress('Zoë <zoe@bücher.example>'), { address: 'zoe@bücher.example', name: 'Zoë' });
    for (const bad of [
      'ann@example',
      'ann.example.com',
      'a b@example.com',
      '<>',
      'Ann <ann@example.com',
      'x@-a.com',
      'a@example.com\nBcc: b@example.com',
    ])
      assert.notEqual(addressProblem(bad), null, bad);
    assert.equal(domainOf('Shop <shop@Example.COM>'), 'example.com');
  });
});

describe('SMTP settings', () => {
  const none = { passwordSet: false };

  test('every problem at once, the password never quoted', () => {
    const r = parseSmtpSettings(
      { host: 'smtp://mail.example.com', port: 70000, security: 'ssl', user: 'u', password: 'pa\nss', from: 'x', replyTo: 'a@b', extra: 1 },
      none,
    );
    assert.equal(r.ok, false);
    const paths = r.ok ? [] : r.problems.map((p) => p.path).sort();
    assert.deepEqual(paths, ['extra', 'from', 'host', 'password', 'port', 'replyTo', 'security']);
    assert.ok(!JSON.stringify(r).includes('pa\\nss'));
  });

  test('defaults by port and security; the GET view may be put back', () => {
    const a = parseSmtpSettings({ host: 'smtp.example.com', from: 'a@example.com' }, none);
    assert.ok(a.ok && a.settings.port === 587 && a.settings.security === 'starttls');
    const b = parseSmtpSettings({ host: 'smtp.example.com', port: 465, from: 'a@example.com' }, none);
    assert.ok(b.ok && b.settings.security === 'tls');
    const c = parseSmtpSettings({ host: 'relay.local', security: 'none', from: 'a@example.com', passwordSet: true, updatedAt: 'x' }, none);
    assert.ok(c.ok && c.settings.port === 25);
    const ip = parseSmtpSettings({ host: '[::1]', port: 2525, from: 'a@example.com' }, none);
    assert.ok(ip.ok && ip.settings.host === '::1');
  });

  test('a password left out is kept when one is stored; null removes it; a user needs one', () => {
    const keep = parseSmtpSettings({ host: 'h.example.com', user: 'u', from: 'a@example.com' }, { passwordSet: true });
    assert.ok(keep.ok && keep.settings.password === undefined);
    const need = parseSmtpSettings({ host: 'h.example.com', user: 'u', from: 'a@example.com' }, none);
    assert.ok(!need.ok && need.problems[0]!.path === 'password');
    const drop = parseSmtpSettings({ host: 'h.example.com', from: 'a@example.com', password: null }, { passwordSet: true });
    assert.ok(drop.ok && drop.settings.password === null && drop.settings.user === null);
    const orphan = parseSmtpSettings({ host: 'h.example.com', from: 'a@example.com', password: 'secret' }, none);
    assert.ok(!orphan.ok && orphan.problems[0]!.path === 'user');
  });
});
