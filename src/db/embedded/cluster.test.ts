// ensureCluster's failures, with stand-in initdb programs: what the user is told, and that nothing half-made is
// left in the data dir. (A real initdb is exercised by every embedded start: test/integration/embedded-postgres.)
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { PgBinaries } from './binaries.js';
import { clusterPaths, ensureCluster } from './cluster.js';
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
