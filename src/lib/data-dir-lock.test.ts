import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireDataDirLock, DataDirLockedError, lockFilePath, readDataDirLock } from './data-dir-lock.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'sluice-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A pid that ran and has exited (and was reaped): what a kill -9 leaves in the lock file. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function staleLock(dir: string): void {
  writeFileSync(lockFilePath(dir), JSON.stringify({ pid: deadPid(), startedAt: new Date(0).toISOString() }), { mode: 0o600 });
}

// Contenders take and give back the lock as fast as they can for a while; whoever holds it marks the room with a
// file only one can create. Half the time a holder "dies" instead of releasing: it leaves the lock file of a dead
// process behind, so that the others race to take a stale lock over. Every stale lock has the same bytes, harsher
// than real ones (each holds its own nonce): a takeover must not be confused by a content that comes back, nor a
// marker swept from under a live taker (CI once saw two holders here). Prints how often two were inside at once.
const CONTENDER = `
import { openSync, closeSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { acquireDataDirLock, lockFilePath } from ${JSON.stringify(path.join(here, 'data-dir-lock.ts'))};
const [dir, at, dead] = process.argv.slice(2);
while (Date.now() < Number(at)) {}
let overlaps = 0, held = 0;
const until = Date.now() + 1500;
while (Date.now() < until) {
  let lock;
  try { lock = acquireDataDirLock(dir); } catch (err) { if (err.name !== 'DataDirLockedError') throw err; continue; }
  held++;
  let mine = false;
  try { closeSync(openSync(dir + '/room', 'wx')); mine = true; } catch { overlaps++; }
  if (mine) unlinkSync(dir + '/room');
  if (held % 2) lock.release();
  else {
    writeFileSync(dir + '/dead.' + process.pid, JSON.stringify({ pid: Number(dead), startedAt: '' }));
    renameSync(dir + '/dead.' + process.pid, lockFilePath(dir));
  }
}
process.stdout.write(JSON.stringify({ overlaps, held }));
`;

function contend(dir: string, script: string, at: number, dead: number): Promise<{ overlaps: number; held: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(at), String(dead)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`contender exited with ${code}`))));
  });
}

describe('data dir lock', () => {
  test('a live holder refuses a second process; a stale lock is taken over; release frees the dir', () => {
    const dir = path.join(root, 'plain');
    const lock = acquireDataDirLock(dir);
    lock.update({ url: 'http://127.0.0.1:1' });
    const held = JSON.parse(readFileSync(lockFilePath(dir), 'utf8'));
    assert.equal(held.pid, process.pid);
    assert.equal(held.url, 'http://127.0.0.1:1');
    lock.release();
    assert.equal(readDataDirLock(dir), undefined);

    staleLock(dir);
    assert.equal(readDataDirLock(dir), undefined, 'the holder is gone: the dir is free');
    const taken = acquireDataDirLock(dir);
    assert.equal(JSON.parse(readFileSync(lockFilePath(dir), 'utf8')).pid, process.pid);
    taken.release();

    // A holder that is alive (here: our parent, which is not us) keeps the dir.
    writeFileSync(lockFilePath(dir), JSON.stringify({ pid: process.ppid, startedAt: new Date().toISOString() }));
    assert.throws(() => acquireDataDirLock(dir), DataDirLockedError);
    assert.equal(JSON.parse(readFileSync(lockFilePath(dir), 'utf8')).pid, process.ppid, 'the live lock is left as it was');
  });

  test(
    'a lock whose pid now belongs to a process started after it (a reboot, a container restart) is stale',
    { skip: process.platform !== 'linux' && 'start times are read from /proc, Linux only' },
    async () => {
      const dir = path.join(root, 'reused-pid');
      const stranger = spawn('sleep', ['30']);
      try {
        const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
        mkdirSync(dir, { recursive: true });
        writeFileSync(lockFilePath(dir), JSON.stringify({ pid: stranger.pid, startedAt: hourAgo }));
        assert.equal(readDataDirLock(dir), undefined, 'a sleep started just now did not take a lock an hour ago');
        const taken = acquireDataDirLock(dir);
        assert.equal(JSON.parse(readFileSync(lockFilePath(dir), 'utf8')).pid, process.pid);
        taken.release();
        // The same process named with a time after its start is a live holder.
        writeFileSync(lockFilePath(dir), JSON.stringify({ pid: stranger.pid, startedAt: new Date().toISOString() }));
        assert.throws(() => acquireDataDirLock(dir), DataDirLockedError);
      } finally {
        stranger.kill();
      }
    },
  );

  test('takeover markers left by processes killed mid-takeover neither block a quick restart nor stay behind', () => {
    const dir = path.join(root, 'markers');
    acquireDataDirLock(dir).release();
    staleLock(dir);
    const file = lockFilePath(dir);
    const marker = `${file}.takeover-${createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex').slice(0, 32)}`;
    // A dead owner, just now; no owner at all (a power loss, so written before the reboot); our own pid (a container
    // restarted with the same pid); and a staging file of a dead process.
    writeFileSync(marker, JSON.stringify({ pid: deadPid(), startedAt: '' }));
    writeFileSync(`${marker}.1`, '');
    utimesSync(`${marker}.1`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFileSync(`${marker}.2`, JSON.stringify({ pid: process.pid, startedAt: '' }));
    writeFileSync(`${file}.${deadPid()}.00000000-0000-4000-8000-000000000000.tmp`, '{}');
    const started = performance.now();
    const lock = acquireDataDirLock(dir);
    assert.ok(performance.now() - started < 500, 'taken at once, not after markers age');
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n !== 'sluice.lock'),
      [],
      'markers and staging files swept',
    );
    lock.release();
  });

  test('processes racing for the dir, over stale locks and live ones: never two holders at once', async () => {
    const script = path.join(root, 'contender.mts');
    writeFileSync(script, CONTENDER);
    const dir = path.join(root, 'race');
    acquireDataDirLock(dir).release();
    const at = Date.now() + 2000; // all started and loaded by then
    const dead = deadPid();
    const results = await Promise.all(Array.from({ length: 4 }, () => contend(dir, script, at, dead)));
    const held = results.reduce((n, r) => n + r.held, 0);
    assert.ok(held > 100, `the contenders took the lock ${held} times: too few to race`);
    assert.deepEqual(
      results.map((r) => r.overlaps),
      [0, 0, 0, 0],
      `two holders at once (lock taken ${held} times)`,
    );
  });
});
