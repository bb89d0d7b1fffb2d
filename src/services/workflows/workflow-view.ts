// How workflows, versions and runs are shown by the API: plain JSON, times as ISO strings, no secret values
// (rendered inputs hold ⟦secret:NAME⟧ markers, never values).
import type { AttemptRow, RunRow, StepRow, WorkflowRow } from '../../db/queries/workflows.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function workflowView(w: WorkflowRow & { lastRunStatus?: string | null }) {
  const d = w.definition as { trigger?: unknown; steps?: unknown };
  return {
    id: w.id,
    name: w.name,
    enabled: w.enabled,
    version: w.version,
    trigger: d.trigger ?? null,
    steps: d.steps ?? [],
    ...(w.lastRunStatus !== undefined ? { lastRunStatus: w.lastRunStatus } : {}),
    createdAt: iso(w.createdAt)!,
    updatedAt: iso(w.updatedAt)!,
  };
}

export function runView(r: RunRow, steps?: StepRow[], attempts?: AttemptRow[]) {
  const t = r.triggerEvent as { id?: string; type?: string; source?: string };
  return {
    id: r.id,
    workflowId: r.workflowId,
    version: r.version,
    status: r.status,
    mode: r.mode,
    attempt: r.attempt,
    rerun: r.rerun,
    depth: r.depth,
    trigger: { eventId: t.id ?? null, type: t.type ?? null, source: t.source ?? null, key: r.triggerEventKey, messageId: r.messageId },
    customerId: r.customer?.id ?? null,
    error: r.error,
    triggeredAt: iso(r.triggeredAt),
    createdAt: iso(r.createdAt)!,
    updatedAt: iso(r.updatedAt)!,
    finishedAt: iso(r.finishedAt),
    ...(steps
      ? {
          steps: steps.map((s) => ({
            stepId: s.stepId,
            kind: s.kind,
            status: s.status,
            input: s.input ?? null,
            output: s.output ?? null,
            error: s.error,
            // A row a later rerun replaced: history (the step was executed again after it).
            superseded: s.superseded,
            rerun: s.rerun,
            attempts: (attempts ?? [])
              .filter((a) => a.stepRowId === s.id)
              .map((a) => ({
                attempt: a.attempt,
                startedAt: iso(a.startedAt)!,
                durationMs: a.durationMs,
                statusCode: a.statusCode,
                responseExcerpt: a.responseExcerpt,
                error: a.error,
                ok: a.ok,
              })),
            nextAttemptAt: s.status === 'pending' ? iso(s.nextAttemptAt) : null,
            createdAt: iso(s.createdAt)!,
            finishedAt: iso(s.finishedAt),
          })),
        }
      : {}),
  };
}
