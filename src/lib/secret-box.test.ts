// The master key file: generated once (0600) and reused; a file too short to be a key stops the start with a
// message naming it, instead of sealing every credential with a key anyone can compute.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createSecretBox, loadOrCreateMasterKey } from './secret-box.js';

const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sluice-key-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('a key is generated once, owner-only, and read back the same', () => {
  const dir = dataDir();
  const first = loadOrCreateMasterKey(undefined, dir);
  assert.equal(first.generated, true);
  assert.ok(first.key.length >= 32);
  assert.equal(statSync(path.join(dir, 'secret.key')).mode & 0o777, 0o600);
  assert.deepEqual(loadOrCreateMasterKey(undefined, dir), { key: first.key, generated: false });
  assert.equal(createSecretBox(first.key).open(createSecretBox(first.key).seal('s')), 's');
});

test('an empty or short key file is refused, naming the file; SLUICE_SECRET_KEY takes precedence', () => {
  for (const content of ['', '\n', 'short\n', 'x'.repeat(31)]) {
    const dir = dataDir();
    writeFileSync(path.join(dir, 'secret.key'), content);
    assert.throws(
      () => loadOrCreateMasterKey(undefined, dir),
      (err: Error & { code?: string }) =>
        err.code === 'MASTER_KEY_FILE_INVALID' && err.message.includes(path.join(dir, 'secret.key')) && /at least 32/.test(err.message),
      JSON.stringify(content),
    );
    const configured = 'k'.repeat(40);
    assert.deepEqual(loadOrCreateMasterKey(configured, dir), { key: configured, generated: false });
  }
});
