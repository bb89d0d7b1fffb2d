// Redaction of workflow secrets in what a run records (a step's answer excerpt and error): a secret comes back in
// the form the receiver, the URL parser or the resolver gave it, not only as it was stored.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { domainToASCII } from 'node:url';
import { test } from 'node:test';
import { redactSecrets } from './plan.js';

const TOKEN = 'Sk_Live-AbC123xYz';
const PATHY = 'Tok En/Ab"C\\é+&<q>';
const secrets = { TOKEN, PATHY, SHORT: 'aBc' };
const T = '⟦secret:TOKEN⟧';
const P = '⟦secret:PATHY⟧';

test('a secret is redacted in another case: a DNS error lowercases the host it was put in', () => {
  const dns = `ENOTFOUND: getaddrinfo ENOTFOUND ${TOKEN.toLowerCase()}.hooks.example.com`;
  assert.equal(redactSecrets(dns, secrets), `ENOTFOUND: getaddrinfo ENOTFOUND ${T}.hooks.example.com`);
  assert.equal(
    redactSecrets(`as sent ${TOKEN}, shouted ${TOKEN.toUpperCase()}, mixed sK_lIVE-aBc123XyZ.`, secrets),
    `as sent ${T}, shouted ${T}, mixed ${T}.`,
  );
});

test('a secret is redacted percent-encoded, as a URL or a form carries it, either case of hex digits', () => {
  const forms = {
    component: encodeURIComponent(PATHY),
    lowerHex: encodeURIComponent(PATHY).replace(/%[0-9A-F]{2}/g, (x) => x.toLowerCase()),
    lowercased: encodeURIComponent(PATHY).toLowerCase(),
    // What the WHATWG URL parser makes of it in a path and in a query: only some characters encoded.
    path: new URL(`https://h.example/${PATHY}`).pathname.slice(1),
    query: new URL(`https://h.example/?${PATHY}`).search.slice(1),
    // A form-encoded query: a space is '+'.
    form: new URLSearchParams({ q: PATHY }).toString().slice(2),
    both: encodeURIComponent(TOKEN.toLowerCase()),
  };
  for (const [name, form] of Object.entries(forms)) {
    const redacted = redactSecrets(`GET https://h.example/x?k=${form}&n=1 failed`, secrets);
    assert.ok(
      redacted === `GET https://h.example/x?k=${P}&n=1 failed` || redacted === `GET https://h.example/x?k=${T}&n=1 failed`,
      `${name}: ${redacted}`,
    );
  }
});

test('a secret is redacted as a JSON or HTML echo writes it, and as the host name a resolver was asked for', () => {
  const json = JSON.stringify({ got: PATHY });
  assert.equal(redactSecrets(json, secrets), `{"got":"${P}"}`);
  const ascii = JSON.stringify(PATHY)
    .slice(1, -1)
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  assert.equal(redactSecrets(`{"got":"${ascii}"}`, secrets), `{"got":"${P}"}`);
  const html = PATHY.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  assert.equal(redactSecrets(`<p>${html}</p>`, secrets), `<p>${P}</p>`);
  const host = 'Bücher-Schlüssel';
  const ascii2 = domainToASCII(host);
  assert.ok(ascii2.startsWith('xn--'));
  assert.equal(redactSecrets(`ENOTFOUND ${ascii2}.example`, { HOST: host }), 'ENOTFOUND ⟦secret:HOST⟧.example');
});

test('other text is left as it is: a secret of under 4 characters, a part of a secret, a marker-like text', () => {
  const text = `abc ABC ${TOKEN.slice(0, -1)}! $& $1 ⟦secret:TOKEN⟧`;
  assert.equal(redactSecrets(text, secrets), text);
  assert.equal(redactSecrets('', secrets), '');
  // A secret holding regex and replacement syntax is matched literally.
  assert.equal(redactSecrets('x (a+)*$&.[b] y', { ODD: '(a+)*$&.[b]' }), 'x ⟦secret:ODD⟧ y');
});

test('a secret of 8,192 characters is found in a 4 KiB answer, in a few milliseconds even in the worst case', () => {
  const long = `${'k'.repeat(8191)}Z`;
  const echoed = `before ${encodeURIComponent(long.toUpperCase())} after`;
  assert.equal(redactSecrets(echoed, { LONG: long }), 'before ⟦secret:LONG⟧ after');
  // Every position starts a partial match that fails only at the end of the text.
  const started = performance.now();
  const text = 'k'.repeat(4096);
  assert.equal(redactSecrets(text, { LONG: long }), text);
  assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
});

test('a value that looks like an escape is redacted as stored too', () => {
  const odd = 'a\\u0041%41&amp;+b';
  assert.equal(redactSecrets(`[${odd}]`, { ODD: odd }), '[⟦secret:ODD⟧]');
  assert.equal(redactSecrets(`[${encodeURIComponent(odd)}]`, { ODD: odd }), '[⟦secret:ODD⟧]');
  assert.equal(redactSecrets(`[${JSON.stringify(odd).slice(1, -1)}]`, { ODD: odd }), '[⟦secret:ODD⟧]');
});

test("a text cut short that ends in a secret's beginning (4 characters or more, in any form) has it hidden too", () => {
  // The first 64 KiB of a longer answer: what the cut went through is the secret's beginning, unrecognised as a place.
  assert.equal(redactSecrets(`{"got":"${TOKEN.slice(0, 6)}`, secrets, true), `{"got":"${T}`);
  assert.equal(redactSecrets(`{"got":"${TOKEN.slice(0, 6)}`, secrets), `{"got":"${TOKEN.slice(0, 6)}`, 'a whole text is left');
  assert.equal(redactSecrets(`x ${TOKEN.slice(0, 4).toUpperCase()}`, secrets, true), `x ${T}`);
  assert.equal(redactSecrets(`x ${TOKEN.slice(0, 3)}`, secrets, true), `x ${TOKEN.slice(0, 3)}`, 'under 4 characters is left');
  assert.equal(redactSecrets(`${TOKEN} and ${TOKEN}`, secrets, true), `${T} and ${T}`);
  // Percent-encoded, the cut inside an escape (`%2` of `%2F`): the escape's start is hidden with the rest.
  const encoded = encodeURIComponent(PATHY);
  assert.equal(encoded.slice(0, 10), 'Tok%20En%2');
  assert.equal(redactSecrets(`?k=${encoded.slice(0, 10)}`, secrets, true), `?k=${P}`);
  assert.equal(redactSecrets(`?k=${encoded.slice(0, 9)}`, secrets, true), `?k=${P}`);
  // The beginning of one secret after the whole of another; a beginning earlier in the text is not an end.
  assert.equal(redactSecrets(`${TOKEN}${PATHY.slice(0, 5)}`, secrets, true), `${T}${P}`);
  assert.equal(redactSecrets(`${TOKEN.slice(0, 8)} then more`, secrets, true), `${TOKEN.slice(0, 8)} then more`);
});

test('a 1 MiB text is redacted in time linear in it, whatever it holds and however long the secret', async () => {
  // Run in a child process so that a redaction that never ends in practice fails the test rather than holding it: a search
  // that tried each place of the text against the whole value took text × value steps here (about 7 minutes).
  const cases = (redact: typeof redactSecrets) => {
    const long = `${'a'.repeat(8191)}b`;
    const text = 'a'.repeat(1 << 20);
    const echoed = `${text}${encodeURIComponent(long.toUpperCase())}!`;
    // Text made of what starts an escape without being one, and 100 secrets.
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`S${i}`, `${'%'.repeat(50)}&#${i}`]));
    const odd = '%&#\\u00%4xn--'.repeat(80_000);
    // Values of thousands of spaces and a `+` (each a space's `+` form short of a match) over encoded spaces.
    const spaces = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`SP${i}`, `${' '.repeat(8190 - i)}+${'ab'.slice(0, i % 3)}`]));
    const encoded = `${'%20'.repeat(349_000)}${encodeURIComponent(spaces.SP0!)}`;
    const redacted = redact(encoded, spaces);
    return [
      redacted.endsWith('⟦secret:SP0⟧') && !redacted.includes('%2B'),
      redact(text, { LONG: long }) === text,
      redact(echoed, { LONG: long }) === `${text}⟦secret:LONG⟧!`,
      redact(`${odd}${'%'.repeat(50)}&#7`, many) === `${odd}⟦secret:S7⟧`,
      // Cut short: the text's last 8,191 `a`s may be the value's beginning (KMP's state at the end says so).
      redact(`${text}${'a'.repeat(8000)}`, { LONG: long }, true) === `${'a'.repeat((1 << 20) + 8000 - 8191)}⟦secret:LONG⟧`,
    ];
  };
  const source = `const m = await import(${JSON.stringify(new URL('./plan.ts', import.meta.url).href)});
    console.log(JSON.stringify((${cases.toString()})(m.redactSecrets)));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = setTimeout(() => child.kill(), 30_000);
  const code = await new Promise((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, 'the redaction did not end within 30 s');
  assert.deepEqual(JSON.parse(out), [true, true, true, true, true]);
});
