// ensureCluster's failures, with stand-in initdb programs: what the user is told, and that nothing half-made is
// left in the data dir. (A real initdb is exercised by every embedded start: test/integration/embedded-postgres.)
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { PgBinaries } from './binaries.js';
import { checkVersion, clusterPaths, ensureCluster } from './cluster.js';
import { EmbeddedDbError } from './errors.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function scratch(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sluice-cluster-'));
  dirs.push(d);
  return d;
}

function binariesWith(initdb: string): PgBinaries {
  return { root: '/nonexistent', native: '/nonexistent', initdb, postgres: '/nonexistent/postgres', version: '18.0.0', major: 18 };
}

describe('ensureCluster', { skip: process.platform === 'win32' ? 'stand-in programs are shell scripts' : false }, () => {
  it('reports what a failing initdb printed, and leaves neither a cluster nor its staging dir', async () => {
    const bin = scratch();
    const initdb = path.join(bin, 'initdb');
    writeFileSync(
      initdb,
      '#!/bin/sh\necho "initdb: starting" \necho "initdb: error: could not create directory: No space left on device" >&2\nexit 1\n',
    );
    chmodSync(initdb, 0o755);
    const dataDir = scratch();
    const paths = clusterPaths(dataDir);
    await assert.rejects(ensureCluster(paths, binariesWith(initdb), undefined), (err: unknown) => {
      assert.ok(err instanceof EmbeddedDbError);
      assert.equal(err.code, 'EMBEDDED_DB_INIT_FAILED');
      assert.match(err.message, /No space left on device/);
      assert.match(err.message, /initdb: starting/);
      return true;
    });
    assert.equal(existsSync(paths.dir), false);
    assert.deepEqual(readdirSync(dataDir), []);
  });

  it('reports an initdb that cannot be run at all', async () => {
    const dataDir = scratch();
    const paths = clusterPaths(dataDir);
    const missing = path.join(scratch(), 'no-such-initdb');
    await assert.rejects(ensureCluster(paths, binariesWith(missing), undefined), (err: unknown) => {
      assert.ok(err instanceof EmbeddedDbError);
      assert.equal(err.code, 'EMBEDDED_DB_INIT_FAILED');
      assert.match(err.message, /ENOENT/);
      return true;
    });
    assert.deepEqual(readdirSync(dataDir), []);
  });

  it('leaves the event loop free while initdb runs', async () => {
    const bin = scratch();
    const initdb = path.join(bin, 'initdb');
    // Stands in for a slow initdb that fails at the end: long enough for the loop to turn many times meanwhile.
    writeFileSync(initdb, '#!/bin/sh\nsleep 0.4\nexit 3\n');
    chmodSync(initdb, 0o755);
    let turns = 0;
    const ticker = setInterval(() => turns++, 10);
    try {
      await assert.rejects(
        ensureCluster(clusterPaths(scratch()), binariesWith(initdb), undefined),
        /EMBEDDED_DB_INIT_FAILED|initdb failed/,
      );
    } finally {
      clearInterval(ticker);
    }
    assert.ok(turns >= 10, `the loop turned ${turns} times while initdb ran`);
  });
});

describe('checkVersion', () => {
  const bins = binariesWith('/nonexistent/initdb');
  function clusterWith(content: string | null): ReturnType<typeof clusterPaths> {
    const paths = clusterPaths(scratch());
    mkdirSync(paths.dir, { recursive: true });
    if (content === null) mkdirSync(path.join(paths.dir, 'PG_VERSION'));
    else writeFileSync(path.join(paths.dir, 'PG_VERSION'), content);
    return paths;
  }
  function refusal(paths: ReturnType<typeof clusterPaths>): EmbeddedDbError {
    try {
      checkVersion(paths, bins);
    } catch (err) {
      assert.ok(err instanceof EmbeddedDbError, String(err));
      assert.equal(err.code, 'EMBEDDED_DB_VERSION');
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(err.message, /[\u0000-\u001f\u007f-\u009f]/, 'no control character reaches the terminal');
      return err;
    }
    assert.fail('accepted');
  }

  it('accepts its own major version, and names another one', () => {
    checkVersion(clusterWith('18\n'), bins);
    assert.match(refusal(clusterWith('16\n')).message, /was made by PostgreSQL 16, and this release of Sluice runs PostgreSQL 18/);
    assert.match(refusal(clusterWith('9.6\n')).message, /was made by PostgreSQL 9\.6,/);
  });

  it('a PG_VERSION that holds no version is called unreadable, and its control bytes are never printed', () => {
    for (const garbage of [
      '\u001b[2J\u001b[31mpwned\u0007\n',
      '\u0000\u0001\u0002',
      '',
      'eighteen\n',
      '18\r\n\u001b]0;title\u0007',
      'x'.repeat(5000),
    ]) {
      const err = refusal(clusterWith(garbage));
      assert.match(err.message, /PG_VERSION does not hold a PostgreSQL version number/, JSON.stringify(garbage));
      assert.doesNotMatch(err.message, /was made by PostgreSQL/);
      assert.ok(err.message.length < 1000, 'not the whole file');
      assert.match(err.message, /backup|move .* away/);
    }
    assert.match(refusal(clusterWith('eighteen\n')).message, /\(it holds "eighteen"\)/, 'short printable text is shown, quoted');
    assert.match(refusal(clusterWith('')).message, /\(it is empty\)/);
    assert.match(refusal(clusterWith('\u001b[2J')).message, /\(it holds 4 bytes of something else\)/);
  });

  it('a PG_VERSION that cannot be read is named with the reason', () => {
    const err = refusal(clusterWith(null));
    assert.match(err.message, /PG_VERSION cannot be read \(EISDIR/);
  });
});
