import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';
import { defaultPoolSize } from './db/open.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
};

test('SLUICE_DB_POOL_SIZE: unset leaves the choice to the database kind; set, it is taken as is', () => {
  assert.equal(loadConfig({}).dbPoolSize, undefined);
  assert.equal(loadConfig({ SLUICE_DB_POOL_SIZE: '3' }).dbPoolSize, 3);
  assert.equal(loadConfig({ SLUICE_DB_POOL_SIZE: '40', SLUICE_EVENT_WORKERS: '4' }).dbPoolSize, 40);
});

test('SLUICE_DB_POOL_SIZE: out of range, not a number, or no larger than the event workers is refused, with the reason', () => {
  assert.deepEqual(problemsOf({ SLUICE_DB_POOL_SIZE: '1' }), ['SLUICE_DB_POOL_SIZE must be an integer between 2 and 500, got "1"']);
  assert.deepEqual(problemsOf({ SLUICE_DB_POOL_SIZE: 'many' }), ['SLUICE_DB_POOL_SIZE must be an integer between 2 and 500, got "many"']);
  const [tooSmall, ...rest] = problemsOf({ SLUICE_DB_POOL_SIZE: '4', SLUICE_EVENT_WORKERS: '4' });
  assert.equal(rest.length, 0);
  assert.match(tooSmall!, /^SLUICE_DB_POOL_SIZE \(4\) must be larger than SLUICE_EVENT_WORKERS \(4\)/);
});

test('SLUICE_EVENT_WORKERS: 2 by default, 1 beside a pool too small for 2', () => {
  const url = { DATABASE_URL: 'postgres://sluice@127.0.0.1:5432/sluice' };
  assert.equal(loadConfig(url).eventWorkers, 2);
  assert.equal(loadConfig({}).eventWorkers, 2, 'embedded: its default pool of 4 holds two');
  assert.equal(loadConfig({ ...url, SLUICE_DB_POOL_SIZE: '3' }).eventWorkers, 1, 'a pool of 3 that was valid before stays valid');
  assert.equal(loadConfig({ SLUICE_DB_POOL_SIZE: '3' }).eventWorkers, 1);
  assert.equal(loadConfig({ ...url, SLUICE_DB_POOL_SIZE: '2' }).eventWorkers, 1);
  assert.equal(loadConfig({ ...url, SLUICE_EVENT_WORKERS: '1' }).eventWorkers, 1);
  assert.equal(loadConfig({ SLUICE_EVENT_WORKERS: '3' }).eventWorkers, 3);
});

test('SLUICE_DB_POOL_SIZE unset: 10 on a shared server and 4 embedded, with room beside the default workers', () => {
  const url = { DATABASE_URL: 'postgres://sluice@127.0.0.1:5432/sluice' };
  assert.equal(defaultPoolSize(true, loadConfig(url).eventWorkers), 10);
  assert.equal(defaultPoolSize(false, loadConfig({}).eventWorkers), 4, 'two embedded workers fit in 4');
  assert.equal(defaultPoolSize(true, 8), 11);
  assert.equal(defaultPoolSize(false, 3), 5);
});

test('integers are digits only, and retry schedules plain numbers without empty entries', () => {
  for (const port of ['0x1000', '1e3', ' 80', '80.0', '+80'])
    assert.match(problemsOf({ PORT: port })[0] ?? '', /^PORT must be an integer/, port);
  assert.equal(loadConfig({ PORT: '8081' }).port, 8081);
  for (const schedule of [',', '1,,2', '1e9', '5,abc', '700000'])
    assert.match(
      problemsOf({ SLUICE_PROCESSING_RETRY_SCHEDULE: schedule })[0] ?? '',
      /^SLUICE_PROCESSING_RETRY_SCHEDULE must be/,
      schedule,
    );
  assert.match(problemsOf({ SLUICE_RETRY_SCHEDULE: '0,,5' })[0] ?? '', /^SLUICE_RETRY_SCHEDULE must be/);
  assert.deepEqual(loadConfig({ SLUICE_RETRY_SCHEDULE: '0, 2.5 ,30' }).retrySchedule, [0, 2.5, 30]);
  assert.deepEqual(loadConfig({ SLUICE_PROCESSING_RETRY_SCHEDULE: '1,5' }).processingRetrySchedule, [1, 5]);
});

test('HOST is an IP address or a host name', () => {
  for (const ok of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'sluice.internal', 'my-host'])
    assert.equal(loadConfig({ HOST: ok }).host, ok);
  for (const bad of ['999.1.1.1', '1.2.3', 'has space', '-dash.example', 'a_b.example', 'http://x'])
    assert.match(problemsOf({ HOST: bad })[0] ?? '', /^HOST must be an IP address/, bad);
});

test('switches read true/false, 1/0 and yes/no alike, and refuse anything else', () => {
  for (const name of ['SLUICE_OUTBOUND_ALLOW_HTTP', 'SLUICE_ALLOW_UNREADABLE_SECRETS'] as const) {
    const key = name === 'SLUICE_OUTBOUND_ALLOW_HTTP' ? 'outboundAllowHttp' : 'allowUnreadableSecrets';
    assert.equal(loadConfig({})[key], false, `${name} unset`);
    for (const on of ['true', '1', 'yes', 'TRUE', ' Yes ']) assert.equal(loadConfig({ [name]: on })[key], true, `${name}=${on}`);
    for (const off of ['false', '0', 'no', 'False']) assert.equal(loadConfig({ [name]: off })[key], false, `${name}=${off}`);
    assert.deepEqual(problemsOf({ [name]: 'on' }), [`${name} must be true or false (or 1/0, yes/no), got "on"`]);
  }
});

test('SLUICE_TRUST_PROXY: unset, empty or false trusts nothing; a list of addresses and CIDRs is taken', () => {
  for (const off of [
    {},
    { SLUICE_TRUST_PROXY: '' },
    { SLUICE_TRUST_PROXY: ' ' },
    { SLUICE_TRUST_PROXY: 'false' },
    { SLUICE_TRUST_PROXY: '0' },
  ])
    assert.deepEqual(loadConfig(off).trustProxy, [], JSON.stringify(off));
  const listed = loadConfig({ SLUICE_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8,' }).trustProxy;
  assert.deepEqual(
    listed.map((c) => `${c.address}/${c.prefix}`),
    ['127.0.0.1/32', '10.0.0.0/8', '::1/128', 'fd00::/8'],
  );
});

test('SLUICE_TRUST_PROXY: everyone, a hop count, a host name or a malformed entry is refused, naming the entry', () => {
  const cases: [string, string, RegExp][] = [
    ['true', 'true', /would believe every client's X-Forwarded-For/],
    ['YES', 'YES', /would believe every client's X-Forwarded-For/],
    ['*', '*', /would believe every client's X-Forwarded-For/],
    ['1', '1', /is a hop count/],
    ['127.0.0.1,2', '2', /is a hop count/],
    ['0.0.0.0/0', '0.0.0.0/0', /covers every address/],
    ['::/0', '::/0', /covers every address/],
    ['::ffff:0.0.0.0/96', '::ffff:0.0.0.0/96', /covers every address/],
    ['::/80', '::/80', /covers every address/],
    ['proxy.internal', 'proxy.internal', /is not an IP address or CIDR \(host names are not looked up\)/],
    ['10.0.0.0/33', '10.0.0.0/33', /is not an IP address or CIDR/],
    ['10.0.0.0/255.0.0.0', '10.0.0.0/255.0.0.0', /is not an IP address or CIDR/],
    ['loopback', 'loopback', /is not an IP address or CIDR/],
  ];
  for (const [value, entry, reason] of cases) {
    const problems = problemsOf({ SLUICE_TRUST_PROXY: value });
    assert.equal(problems.length, 1, `${value}: ${problems.join('; ')}`);
    assert.ok(problems[0]!.startsWith(`SLUICE_TRUST_PROXY: "${entry}" `), problems[0]);
    assert.match(problems[0]!, reason, value);
    assert.match(problems[0]!, /e\.g\. 127\.0\.0\.1 or 10\.0\.0\.0\/8/, value);
  }
  // Every bad entry is listed at once.
  assert.equal(problemsOf({ SLUICE_TRUST_PROXY: 'true,10.0.0.1,nope' }).length, 2);
});

test('DATABASE_URL naming a TLS file that cannot be read says so, not that the URL is invalid', () => {
  // The driver reads sslrootcert, sslcert and sslkey files while it parses the URL.
  for (const [param, path] of [
    ['sslrootcert', '/nonexistent/sluice-ca.pem'],
    ['sslcert', '/nonexistent/client.crt'],
    ['sslkey', '/'],
  ] as const) {
    const problems = problemsOf({ DATABASE_URL: `postgres://sluice:hunter2secret@db/sluice?sslmode=verify-full&${param}=${path}` });
    assert.equal(problems.length, 1, param);
    assert.match(problems[0]!, /^DATABASE_URL names a TLS file \(sslcert, sslkey or sslrootcert\) that cannot be read: E[A-Z]+/, param);
    assert.ok(!problems[0]!.includes('hunter2'), 'the password is quoted');
  }
});

test('DATABASE_URL the driver cannot read is refused at the start, naming what to check and never quoting it', () => {
  for (const url of [
    'postgres://sluice:hunter2secret@db:99999/sluice',
    'postgres://sluice:hunter2secret@[::1/sluice',
    'postgresql://s:p@h:port/db',
  ]) {
    const problems = problemsOf({ DATABASE_URL: url });
    assert.equal(problems.length, 1, url);
    assert.match(problems[0]!, /^DATABASE_URL is not a valid URL: check its port/);
    assert.ok(!problems[0]!.includes('hunter2'), 'the password is quoted');
  }
  for (const url of [
    'postgres://sluice:p%40ss@127.0.0.1:5432/sluice',
    'postgres:///sluice?host=/var/run/postgresql',
    // Credentials for a server reached through its Unix socket: no host before the query, which a bare URL refuses.
    'postgres://app:pw@/sluice?host=/var/run/postgresql',
    'postgresql://h/db',
  ]) {
    assert.deepEqual(problemsOf({ DATABASE_URL: url }), [], url);
  }
});
