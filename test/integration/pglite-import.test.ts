// Carrying a PGlite data dir over into PostgreSQL: a data dir made the way the current release makes it (real
// API, real worker, real deliveries) arrives row for row, byte for byte; sequences continue; a second import is
// refused; a failure halfway leaves the target as it was. The CLI test runs real `sluice` processes end to end.
//
// The target is always a real PostgreSQL: DATABASE_URL when set, else the local server when it answers, so the
// embedded leg of the suite runs this file too.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openPglite } from '../../src/db/pglite.js';
import { importPgliteDataDir } from '../../src/db/pglite-import.js';
import type { Db, Queryable } from '../../src/db/port.js';
import { signStripePayload } from '../../src/inbound/stripe/verify.js';
import { postStripe, signStripe, stripeEvent } from '../helpers/stripe.js';
import { startReceiver } from '../helpers/receiver.js';
import { processApi, runSluice, startSluiceProcess } from '../helpers/sluice-process.js';

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

const postgresUrl = process.env.DATABASE_URL ?? ((await answers(LOCAL_POSTGRES)) ? LOCAL_POSTGRES : undefined);
// The test helpers pick their database from DATABASE_URL when first loaded: they are loaded after it is set.
if (postgresUrl) process.env.DATABASE_URL = postgresUrl;
const { createTestStore, openMigrated } = await import('../helpers/db.js');
const { startTestApp, waitFor } = await import('../helpers/app.js');
type TestStore = Awaited<ReturnType<typeof createTestStore>>;

const SKIP = postgresUrl ? false : 'needs a PostgreSQL: DATABASE_URL is unset and nothing answers on 127.0.0.1:5432';
const SECRET = 'whsec_pglite_import_0123456789';
const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

// Types our schema does not use yet but an import must carry exactly, and counters that must continue.
const PROBE_DDL = `CREATE TABLE import_probe (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  serial_no bigserial NOT NULL,
  amount numeric,
  ratio double precision,
  span interval,
  tags text[],
  doc jsonb,
  at timestamptz,
  blob bytea,
  doubled numeric GENERATED ALWAYS AS (amount * 2) STORED
)`;

async function rows(db: Queryable, table: string): Promise<string[]> {
  // Sorted here, not by ORDER BY: the two servers may collate text differently.
  const { rows: r } = await db.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM "${table}" t`);
  return r.map((x) => x.j).sort();
}

async function tablesOf(db: Queryable): Promise<string[]> {
  const { rows: r } = await db.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class
      WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND relkind = 'r' AND relname <> 'schema_migrations'
      ORDER BY relname`,
  );
  return r.map((x) => x.name);
}

/** Every table's rows as JSON text, in UTC so timestamps print the same on both sides. */
async function dump(db: Db): Promise<Record<string, string[]>> {
  return db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL TimeZone = 'UTC'`);
    const out: Record<string, string[]> = {};
    for (const t of await tablesOf(tx)) out[t] = await rows(tx, t);
    return out;
  });
}

async function targetWithProbe(): Promise<{ store: TestStore; db: Db }> {
  const store = await createTestStore();
  const db = await openMigrated(store);
  await db.exec(PROBE_DDL);
  return { store, db };
}

/** A PGlite data dir built the way the current release builds one: real API calls, real worker and sender. */
async function buildPgliteDataDir(dataDir: string): Promise<void> {
  const pgdata = path.join(dataDir, 'pgdata');
  const store: TestStore = {
    env: { SLUICE_DATA_DIR: dataDir },
    dataDir,
    databaseUrl: '',
    open: () => openPglite(pgdata),
    drop: async () => {},
  };
  const receiver = await startReceiver((_req, n) => (n === 1 ? { status: 503, body: 'busy' } : { status: 200 }));
  const app = await startTestApp({
    store,
    config: { outboundAllow: LOOPBACK, retrySchedule: [0, 0.1, 0.1, 0.1] },
  });
  try {
    const created = await fetch(`${app.url}/api/v1/workspaces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.adminToken}`, 'content-type': 'application/json', 'idempotency-key': 'import-ws-1' },
      body: JSON.stringify({ name: 'Ünïcode “Shop”' }),
    });
    assert.equal(created.status, 201);
    const ws = ((await created.json()) as { id: string }).id;
    await app.api('POST', '/api/v1/workspaces', { name: 'Second' });
    assert.equal((await app.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name: 'reporting', role: 'viewer' })).status, 201);
    assert.equal((await app.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
    const ep = await app.api('POST', `/api/v1/workspaces/${ws}/endpoints`, { url: `${receiver.url}/hook`, description: 'app' });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));

    const T0 = 1_790_000_000;
    const payloads = [
      stripeEvent('customer.created', { id: 'cus_imp', email: 'ada@example.com', name: 'Ada “Ł” Lovelace' }),
      stripeEvent('customer.subscription.created', {
        id: 'sub_imp',
        object: 'subscription',
        customer: 'cus_imp',
        status: 'active',
        cancel_at_period_end: false,
        current_period_start: T0,
        current_period_end: T0 + 30 * 86400,
        items: { object: 'list', data: [{ id: 'si_1', price: { id: 'price_gold', nickname: 'Gold', product: 'prod_gold' }, quantity: 1 }] },
      }),
      stripeEvent('invoice.paid', {
        id: 'in_imp',
        object: 'invoice',
        customer: 'cus_imp',
        amount_paid: 1999,
        currency: 'eur',
        status: 'paid',
      }),
    ];
    for (const p of payloads) assert.equal((await postStripe(app.url, ws, p, signStripe(p, SECRET))).status, 200);
    // A validly signed body that is not UTF-8: kept only as bytes (raw_bytes).
    const text = stripeEvent('customer.updated', { id: 'cus_imp', name: 'XX' });
    const [head, tail] = text.split('XX') as [string, string];
    const binary = Buffer.concat([Buffer.from(head), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(tail)]);
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${signStripePayload(binary, t, SECRET).toString('hex')}`;
    assert.equal((await postStripe(app.url, ws, binary, signature)).status, 200);

    await waitFor(
      async () => (await app.api('GET', `/api/v1/workspaces/${ws}/events?status=received`)).body.data.length === 0,
      'every event processed',
    );
    await waitFor(async () => {
      const list = (await app.api('GET', `/api/v1/workspaces/${ws}/deliveries`)).body.data as { status: string }[];
      return list.length > 0 && list.every((d) => d.status !== 'pending');
    }, 'every delivery finished');
  } finally {
    await app.close();
    await receiver.close();
  }
  const db = await openPglite(pgdata);
  try {
    await db.exec(PROBE_DDL);
    await db.query(
      `INSERT INTO import_probe (amount, ratio, span, tags, doc, at, blob) VALUES
         (12345678901234567890.123456789012, 0.1, '1 day 02:03:04.5', '{"a b","c,d",NULL,"\\"q\\""}',
          '{"n": 1.50, "s": "\\u00e9", "nested": {"x": [1, null, true]}}', '2026-02-03 04:05:06.789012+05:30', '\\x00ff10'),
         (-0.000000000000000001, 'NaN', NULL, '{}', 'null', '-infinity', ''),
         (NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    );
  } finally {
    await db.close();
  }
}

describe('importing a PGlite data dir into PostgreSQL', { skip: SKIP }, () => {
  let sourceRoot: string;
  let pgdata: string;
  let source: Record<string, string[]>;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    sourceRoot = mkdtempSync(path.join(tmpdir(), 'sluice-pglite-src-'));
    pgdata = path.join(sourceRoot, 'pgdata');
    await buildPgliteDataDir(sourceRoot);
    const db = await openPglite(pgdata);
    try {
      source = await dump(db);
    } finally {
      await db.close();
    }
  });
  after(async () => {
    for (const c of cleanups) await c();
    rmSync(sourceRoot, { recursive: true, force: true });
  });

  async function freshTarget(): Promise<Db> {
    const { store, db } = await targetWithProbe();
    cleanups.push(async () => {
      await db.close();
      await store.drop();
    });
    return db;
  }

  test('the source is a real one: every part of the product left rows', () => {
    for (const t of [
      'workspaces',
      'api_keys',
      'connections',
      'events',
      'customers',
      'subscriptions',
      'messages',
      'endpoints',
      'deliveries',
    ]) {
      assert.ok(source[t]!.length > 0, `${t} has rows in the PGlite data dir`);
    }
    assert.ok(source.delivery_attempts!.length >= 2, 'a failed attempt and its retry');
    assert.ok(source.idempotency_keys!.length >= 1);
    assert.ok(
      source.events!.some((e) => (JSON.parse(e) as { raw_bytes: string | null }).raw_bytes !== null),
      'an event kept only as bytes',
    );
  });

  test('every table arrives identical, bytea, jsonb, timestamptz, numeric and NULLs included', async () => {
    const target = await freshTarget();
    const progress: { table: string; rows: number }[] = [];
    const result = await importPgliteDataDir(pgdata, target, (p) => progress.push(p));

    const imported = await dump(target);
    assert.deepEqual(Object.keys(imported).sort(), Object.keys(source).sort());
    for (const t of Object.keys(source)) assert.deepEqual(imported[t], source[t], `table ${t}`);
    assert.equal(result.tables, Object.keys(source).length);
    assert.equal(
      result.rows,
      Object.values(source).reduce((n, r) => n + r.length, 0),
    );
    assert.deepEqual([...new Set(progress.map((p) => p.table))].sort(), Object.keys(source).sort(), 'progress for every table');

    // Exact values checked in their native form too, not only as JSON text.
    const probe = await target.query<{ amount: string; blob: Buffer; at: string; doc: unknown; doubled: string }>(
      `SELECT amount::text AS amount, blob, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at, doc, doubled::text AS doubled
         FROM import_probe ORDER BY id`,
    );
    assert.equal(probe.rows[0]!.amount, '12345678901234567890.123456789012');
    assert.equal(probe.rows[0]!.doubled, '24691357802469135780.246913578024', 'generated column computed by the target');
    assert.deepEqual(probe.rows[0]!.blob, Buffer.from([0x00, 0xff, 0x10]));
    assert.equal(probe.rows[0]!.at, '2026-02-02 22:35:06.789012');
    assert.deepEqual(probe.rows[0]!.doc, { n: 1.5, s: 'é', nested: { x: [1, null, true] } });
    assert.equal(probe.rows[1]!.amount, '-0.000000000000000001');
    assert.deepEqual(probe.rows[1]!.blob, Buffer.alloc(0));
    assert.equal(probe.rows[2]!.amount, null);
    const bytes = await target.query<{ raw_bytes: Buffer }>(`SELECT raw_bytes FROM events WHERE raw_bytes IS NOT NULL`);
    assert.equal(bytes.rows.length, 1);
    assert.ok(bytes.rows[0]!.raw_bytes.includes(Buffer.from([0xc3, 0x28, 0xff])), 'the exact non-UTF-8 bytes');
  });

  test('new rows do not collide: identity and sequence counters continue after the imported ones', async () => {
    const target = await freshTarget();
    await importPgliteDataDir(pgdata, target);
    const { rows: r } = await target.query<{ id: number; serial_no: number }>(
      `INSERT INTO import_probe (amount) VALUES (1) RETURNING id, serial_no`,
    );
    assert.deepEqual(r[0], { id: 4, serial_no: 4 });
    await target.query(`INSERT INTO workspaces (id, name) VALUES ('ws_after_import', 'new')`);
  });

  test('a target that was only started (its own admin token hash, no workspace) is taken over', async () => {
    const target = await freshTarget();
    await target.query(`INSERT INTO settings (key, value) VALUES ('admin_token_hash', 'of-the-new-start')`);
    await importPgliteDataDir(pgdata, target);
    assert.deepEqual((await dump(target)).settings, source.settings, 'the old instance settings, so the old admin token works');
  });

  test('a target in use (another session holds a table) is refused after a short wait, untouched', async () => {
    const target = await freshTarget();
    const before = await dump(target);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = target.transaction(async (tx) => {
      await tx.exec('LOCK TABLE events IN ROW EXCLUSIVE MODE'); // what any INSERT takes
      locked();
      await held;
    });
    await isLocked;
    try {
      await assert.rejects(importPgliteDataDir(pgdata, target), { code: 'IMPORT_TARGET_BUSY', message: /stop it/ });
    } finally {
      release();
      await holder;
    }
    assert.deepEqual(await dump(target), before);
  });

  test('a second import is refused and changes nothing', async () => {
    const target = await freshTarget();
    await importPgliteDataDir(pgdata, target);
    const before = await dump(target);
    await assert.rejects(importPgliteDataDir(pgdata, target), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'IMPORT_TARGET_NOT_EMPTY');
      assert.match(err.message, /already holds data/);
      return true;
    });
    assert.deepEqual(await dump(target), before);
  });

  test('a failure halfway leaves the target exactly as it was', async () => {
    const target = await freshTarget();
    // delivery_attempts is copied last (it needs deliveries and endpoints): everything before it is in when this fails.
    await target.exec(`ALTER TABLE delivery_attempts ADD CONSTRAINT refuse_retries CHECK (outcome <> 'retry')`);
    await target.query(`INSERT INTO settings (key, value) VALUES ('left_alone', 'yes')`);
    const before = await dump(target);
    const seen: string[] = [];
    await assert.rejects(
      importPgliteDataDir(pgdata, target, (p) => seen.push(p.table)),
      (err: Error & { code?: string }) => err.code === '23514',
    );
    assert.ok(seen.includes('deliveries') && seen.includes('events'), 'the failure came after most tables were copied');
    assert.deepEqual(await dump(target), before);
  });

  test('rows lost on the way (a trigger dropping them) fail the count check, and nothing is kept', async () => {
    const target = await freshTarget();
    await target.exec(`
      CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE TRIGGER lose_api_keys BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION drop_row();`);
    await assert.rejects(importPgliteDataDir(pgdata, target), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'IMPORT_COUNT_MISMATCH');
      assert.match(err.message, /api_keys: \d+ rows in the PGlite data dir, 0 on the target/);
      return true;
    });
    assert.deepEqual((await target.query(`SELECT count(*)::int AS n FROM workspaces`)).rows, [{ n: 0 }]);
  });

  test('a PGlite data dir whose process was killed (kill -9, a crash, a power cut) is imported whole', async () => {
    // The release before, killed while its database was open: PGlite leaves its postmaster.pid behind (a standalone
    // backend's negative pid, its virtual /pglite/data path), which PGlite itself opens again without a word.
    const scratch = mkdtempSync(path.join(tmpdir(), 'sluice-pglite-killed-'));
    cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));
    const killed = path.join(scratch, 'pgdata');
    cpSync(pgdata, killed, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { PGlite } = await import('@electric-sql/pglite');
         const db = await PGlite.create(process.argv[1]);
         await db.query('SELECT count(*) FROM events');
         process.stdout.write('open\\n');
         setInterval(() => {}, 1000);`,
        killed,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('open') && resolve());
      child.on('exit', (code) => reject(new Error(`the PGlite process exited (${code}) before it opened the dir`)));
    });
    const gone = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await gone;
    assert.ok(existsSync(path.join(killed, 'postmaster.pid')), 'the killed PGlite left its postmaster.pid');

    const target = await freshTarget();
    await importPgliteDataDir(killed, target);
    const imported = await dump(target);
    for (const t of Object.keys(source)) assert.deepEqual(imported[t], source[t], `table ${t}`);
  });

  test('a missing dir, a dir that is not PGlite and a target without a table are refused, and nothing is written', async () => {
    const target = await freshTarget();
    const scratch = mkdtempSync(path.join(tmpdir(), 'sluice-not-pglite-'));
    cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));
    await assert.rejects(importPgliteDataDir(path.join(scratch, 'nope'), target), { code: 'IMPORT_SOURCE_MISSING' });
    assert.equal(existsSync(path.join(scratch, 'nope')), false, 'not created');
    writeFileSync(path.join(scratch, 'notes.txt'), 'hello');
    await assert.rejects(importPgliteDataDir(scratch, target), { code: 'IMPORT_SOURCE_INVALID' });
    assert.deepEqual(readdirSync(scratch), ['notes.txt'], 'nothing written into it');
    const server = path.join(scratch, 'server');
    mkdirSync(path.join(server, 'global'), { recursive: true });
    writeFileSync(path.join(server, 'PG_VERSION'), '18\n');
    writeFileSync(path.join(server, 'global', 'pg_control'), '');
    writeFileSync(path.join(server, 'postmaster.opts'), '/usr/lib/postgresql/18/bin/postgres');
    await assert.rejects(importPgliteDataDir(server, target), /data dir of a PostgreSQL server/);
    // A server's postmaster.pid alone (its opts file lost) is refused too: only PGlite's own is let through.
    rmSync(path.join(server, 'postmaster.opts'));
    writeFileSync(path.join(server, 'postmaster.pid'), `4242\n${server}\n1700000000\n5432\n/tmp\n\n0 0\nready\n`);
    await assert.rejects(importPgliteDataDir(server, target), /data dir of a PostgreSQL server/);

    await target.exec('DROP TABLE import_probe');
    await assert.rejects(importPgliteDataDir(pgdata, target), { code: 'IMPORT_SCHEMA_MISMATCH', message: /import_probe/ });
    assert.deepEqual((await target.query(`SELECT count(*)::int AS n FROM workspaces`)).rows, [{ n: 0 }]);
  });
});

describe('sluice migrate-data (real processes)', { skip: SKIP }, () => {
  const TOKEN = 'migrate_data_admin_token_0123456789';
  const api = processApi(TOKEN);
  let dataDir: string;
  let target: TestStore;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-migrate-data-'));
    target = await createTestStore();
  });
  after(async () => {
    await target.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a data dir of the PGlite release is carried over; its secrets still open; a second run is refused', async () => {
    // The release before ran on PGlite in <dataDir>/pgdata: the same services and API over a PGlite store
    // (this release no longer starts on PGlite), its secrets sealed with the operator's master key.
    const masterKey = randomBytes(32).toString('base64');
    const pglite: TestStore = {
      env: { SLUICE_DATA_DIR: dataDir },
      dataDir,
      databaseUrl: '',
      open: () => openPglite(path.join(dataDir, 'pgdata')),
      drop: async () => {},
    };
    const old = await startTestApp({ store: pglite, masterKey });
    let ws: string;
    try {
      ws = (await old.api('POST', '/api/v1/workspaces', { name: 'Carried' })).body.id;
      assert.equal((await old.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
      const p = stripeEvent('customer.created', { id: 'cus_cli', email: 'cli@example.com' });
      assert.equal((await postStripe(old.url, ws, p, signStripe(p, SECRET))).status, 200);
    } finally {
      await old.close();
    }

    const env = { ...target.env, SLUICE_DATA_DIR: dataDir, SLUICE_SECRET_KEY: masterKey };
    const run = await runSluice(['migrate-data', '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(summary.masterKey, 'ok', 'the data dir key opens the imported secrets');
    assert.equal(summary.renamedTo, path.join(dataDir, 'pgdata.pglite-imported'));
    assert.ok((summary.rows as number) >= 3);
    assert.match(run.stderr, /importing .*pgdata/);
    assert.match(run.stderr, /workspaces\s+1 rows/);
    assert.doesNotMatch(run.stdout + run.stderr, /postgres:\/\/|password/i, 'no connection string printed');
    assert.equal(existsSync(path.join(dataDir, 'pgdata')), false);
    assert.ok(existsSync(path.join(dataDir, 'pgdata.pglite-imported', 'PG_VERSION')));

    // The new release on PostgreSQL: the old workspace, its event and its sealed webhook secret all work.
    const next = await startSluiceProcess({ ...env, SLUICE_ADMIN_TOKEN: TOKEN });
    try {
      const events = await api(next.url, 'GET', `/workspaces/${ws}/events?provider=stripe`);
      assert.equal(events.status, 200);
      assert.equal(events.body.data.length, 1);
      const p = stripeEvent('customer.updated', { id: 'cus_cli', email: 'new@example.com' });
      assert.equal((await postStripe(next.url, ws, p, signStripe(p, SECRET))).status, 200, 'the imported signing secret verifies');
      assert.equal((await api(next.url, 'GET', `/workspaces/${ws}/events?provider=stripe`)).body.data.length, 2);
    } finally {
      next.proc.kill('SIGTERM');
      await next.exited;
    }

    const again = await runSluice(['migrate-data', '--from', path.join(dataDir, 'pgdata.pglite-imported')], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds data.*\[IMPORT_TARGET_NOT_EMPTY\]/);
    assert.ok(existsSync(path.join(dataDir, 'pgdata.pglite-imported')), 'a refused import renames nothing');

    const missing = await runSluice(['migrate-data'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no PGlite data dir at .*pgdata \[IMPORT_SOURCE_MISSING\]/);

    const usage = await runSluice(['migrate-data', '--form', 'x'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option --form/);
  });
});

describe('sluice migrate-data into the embedded PostgreSQL (the way PGLITE_IMPORT_FAILED says)', () => {
  test(
    'old database moved aside, Sluice started on an empty one, then migrate-data --from with Sluice stopped: all of it is there',
    { timeout: 180_000 },
    async () => {
      const TOKEN = 'migrate_data_embedded_token_0123456789';
      const api = processApi(TOKEN);
      const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-migrate-embedded-'));
      const masterKey = randomBytes(32).toString('base64');
      try {
        // The release before, on PGlite in <dataDir>/pgdata.
        const pglite: TestStore = {
          env: { SLUICE_DATA_DIR: dataDir },
          dataDir,
          databaseUrl: '',
          open: () => openPglite(path.join(dataDir, 'pgdata')),
          drop: async () => {},
        };
        const old = await startTestApp({ store: pglite, masterKey });
        let ws: string;
        try {
          ws = (await old.api('POST', '/api/v1/workspaces', { name: 'Moved aside' })).body.id;
          assert.equal((await old.api('PUT', `/api/v1/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] })).status, 200);
          const p = stripeEvent('customer.created', { id: 'cus_aside', email: 'aside@example.com' });
          assert.equal((await postStripe(old.url, ws, p, signStripe(p, SECRET))).status, 200);
        } finally {
          await old.close();
        }

        // The embedded PostgreSQL, never DATABASE_URL.
        const env = { SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', SLUICE_SECRET_KEY: masterKey, SLUICE_ADMIN_TOKEN: TOKEN };
        const aside = path.join(dataDir, 'pgdata.not-imported');
        renameSync(path.join(dataDir, 'pgdata'), aside);
        const empty = await startSluiceProcess(env);
        empty.proc.kill('SIGTERM');
        assert.equal((await empty.exited).code, 0);

        const run = await runSluice(['migrate-data', '--from', aside, '--json'], env);
        assert.equal(run.code, 0, run.stdout + run.stderr);
        const summary = JSON.parse(run.stdout) as Record<string, unknown>;
        assert.equal(summary.target, 'the embedded database');
        assert.equal(summary.masterKey, 'ok');
        assert.equal(summary.renamedTo, `${aside}.pglite-imported`);

        const next = await startSluiceProcess(env);
        try {
          const events = await api(next.url, 'GET', `/workspaces/${ws}/events?provider=stripe`);
          assert.equal(events.status, 200);
          assert.equal(events.body.data.length, 1);
          const p = stripeEvent('customer.updated', { id: 'cus_aside', email: 'new@example.com' });
          assert.equal((await postStripe(next.url, ws, p, signStripe(p, SECRET))).status, 200, 'the imported signing secret verifies');
        } finally {
          next.proc.kill('SIGTERM');
          await next.exited;
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
});
