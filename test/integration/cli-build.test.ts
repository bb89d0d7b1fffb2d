// `npm start`'s prestart: the TypeScript build runs when the sources changed and is skipped when they did not.
// Exercised on a tiny project (the real script, the real tsc) so the test does not pay for a full build.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));

test('prestart builds on first start and after a change, and skips an up-to-date build', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-build-'));
  try {
    mkdirSync(path.join(dir, 'scripts'));
    copyFileSync(path.join(repo, 'scripts/build-if-stale.mjs'), path.join(dir, 'scripts/build-if-stale.mjs'));
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
    mkdirSync(path.join(dir, 'src/cli'), { recursive: true });
    writeFileSync(path.join(dir, 'src/main.ts'), 'export const answer: number = 42;\n');
    writeFileSync(path.join(dir, 'src/cli/main.ts'), "import { answer } from '../main.js';\nexport const cli = answer + 1;\n");
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          types: [],
        },
      }),
    );
    writeFileSync(
      path.join(dir, 'tsconfig.build.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }),
    );
    const prestart = () => {
      const r = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const built = path.join(dir, 'dist/cli/main.js');

    assert.match(prestart(), /building dist/);
    const first = statSync(built).mtimeMs;
    assert.match(prestart(), /up to date/);
    assert.equal(statSync(built).mtimeMs, first, 'an up-to-date build is not rewritten');

    writeFileSync(path.join(dir, 'src/cli/main.ts'), "import { answer } from '../main.js';\nexport const cli = answer + 2;\n");
    assert.match(prestart(), /building dist/);
    assert.notEqual(statSync(built).mtimeMs, first);

    rmSync(path.join(dir, 'dist/main.js'));
    assert.match(prestart(), /building dist/, 'a dist/ missing an entry point is rebuilt');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
