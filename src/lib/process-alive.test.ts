import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { isAlive } from './process-alive.js';

test('isAlive: a live process is alive, an exited one is not', async () => {
  assert.equal(isAlive(process.pid), true);
  const child = spawn('sleep', ['5']);
  assert.equal(isAlive(child.pid!), true);
  child.kill();
  await once(child, 'exit');
  assert.equal(isAlive(child.pid!), false);
});

test(
  'isAlive: an exited process its parent has not reaped yet (a zombie) is gone, though kill(pid, 0) still succeeds',
  { skip: process.platform !== 'linux' && 'zombies are read from /proc, Linux only' },
  async () => {
    // sh starts a short sleep in the background, then becomes a long one, which never reaps the first.
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
      const zombie = Number(chunk.toString().trim());
      assert.ok(zombie > 0);
      for (let i = 0; i < 150 && isAlive(zombie); i++) await new Promise((r) => setTimeout(r, 20));
      assert.doesNotThrow(() => process.kill(zombie, 0), 'the zombie still answers a signal');
      assert.equal(isAlive(zombie), false);
    } finally {
      parent.kill();
    }
  },
);
