// The size of V8's young generation for the `sluice start` server. V8 sizes it only when the process starts, so a
// server started without the flag is started again with it, in place (same process id), by bin/sluice.js.
//
// Why: every webhook, projection batch and delivery allocates briefly-lived objects, and V8 grows the young
// generation's semi-spaces up to its maximum under that allocation rate; the pages stay resident. Node 20 and 22 grow
// them to 16 MB; Node 24 (V8 13) to 32 MB, on a machine with 4 GB of heap or more: Sluice on Node 24 peaked at 278 MB
// RSS under the benchmark's load, against 163 MB on Node 20, and the embedded server at 350 MB with its database,
// against the goals of 200 and 250. With 8 MB semi-spaces the embedded server on Node 24 still came to 238-259 MB; with
// 4 MB, 233-236 MB (and 158 MB on PostgreSQL), ingest as fast, projection 5-10 % slower than with 8 (docs/operations.md,
// "Memory"; docs/benchmarks.md, "Twenty-eighth session"). A small machine's memory matters more than projection
// headroom: 3,000 events/s and more is far above what a provider sends.
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=4';

const SEMI_SPACE_FLAG = /(^|\s)--max[-_]semi[-_]space[-_]size\b/;

/**
 * The argv to start the server again with, or undefined to run as it is: only for `start`, only when neither node's
 * own arguments nor NODE_OPTIONS choose a size already (an operator's choice wins), and only where Node can replace
 * the running process (`process.execve`: Node 22.15 and later, not on Windows). Node 20 has no execve; `npm start`
 * passes the flag itself.
 */
export function restartArgv({ execPath, execArgv, argv, nodeOptions, canExec }) {
  if (!canExec || argv[2] !== 'start') return undefined;
  if (execArgv.some((a) => SEMI_SPACE_FLAG.test(a)) || SEMI_SPACE_FLAG.test(nodeOptions ?? '')) return undefined;
  return [execPath, YOUNG_GENERATION_FLAG, ...execArgv, ...argv.slice(1)];
}
