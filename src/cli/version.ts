import { readFileSync } from 'node:fs';

// Read from package.json at run time (from src/cli under tsx and dist/cli when compiled: both two levels down),
// so the version is never a second copy to keep in step.
export const SLUICE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
