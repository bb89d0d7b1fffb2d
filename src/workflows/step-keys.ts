// The key a step's effects are deduplicated by: the http Idempotency-Key, and the dedupe keys of the messages
// internal steps publish. `<runId>:<stepId>` for the first execution of a step, the same on every attempt and on
// a retried run (a retry repeats what was meant to happen once); `<runId>:<stepId>:<attempt>` for a step executed
// again by a rerun from a step, so the rerun really acts again rather than being dropped as a repeat. Pure.

export function stepKey(runId: string, stepId: string, rerun: number | null | undefined): string {
  return rerun ? `${runId}:${stepId}:${rerun}` : `${runId}:${stepId}`;
}
