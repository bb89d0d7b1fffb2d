/**
 * How to pass --debug again, as the failed command was run. Under `npm start` (or any package script) npm keeps a
 * bare --debug for itself, so the flag must follow `--`. `npx sluice …` and `npm exec` set npm_lifecycle_event to
 * npx or exec, which are no scripts: there, as run directly, the flag goes after the command as usual.
 */
export function debugFlagHint(lifecycleEvent: string | undefined): string {
  if (lifecycleEvent === undefined || lifecycleEvent === '' || lifecycleEvent === 'npx' || lifecycleEvent === 'exec') return '--debug';
  return `npm ${['start', 'test'].includes(lifecycleEvent) ? lifecycleEvent : `run ${lifecycleEvent}`} -- --debug`;
}
