import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config.js';
import { AppError } from '../../errors.js';
import { jsonErrorPlace } from '../../lib/json-error-place.js';
import { getRun, listWorkflowRuns } from '../../services/workflows/read-runs.js';
import { listWorkflowsOf } from '../../services/workflows/read-workflows.js';
import { createWorkflow, patchWorkflow } from '../../services/workflows/save-workflow.js';
import { testWorkflow } from '../../services/workflows/test-workflow.js';
import type { runView, workflowView } from '../../services/workflows/workflow-view.js';
import { parseOptions, UsageError, type Command } from '../command.js';
import { openAccess, type Access } from '../local.js';
import { workspaceOf } from '../workspace-choice.js';

const HELP = [
  'Usage: sluice workflow list [--workspace WS] [--json]',
  '       sluice workflow apply FILE [--workspace WS] [--json]',
  '       sluice workflow test WORKFLOW (--event EVT | --payload FILE [--type TYPE]) [--workspace WS] [--json]',
  '       sluice workflow runs WORKFLOW [--status S] [--limit N] [--workspace WS] [--json]',
  '       sluice workflow run RUN [--workspace WS] [--json]',
  '',
  '  list     the workflows: id, version, enabled, trigger, and the status of the last run',
  '  apply    creates the workflow FILE defines (JSON, as in docs/workflows.md; - reads stdin), or, when the',
  '           workspace has a workflow of that name, updates it: a new version only if the definition changed,',
  '           so applying the same file again changes nothing. The file is the whole definition: without',
  '           "enabled" the workflow is enabled. An invalid definition is refused with every problem listed.',
  '  test     dry run: does the trigger match the event, does its if pass, and what would each step do;',
  '           nothing is sent or written. --event: a stored event (evt_…) or message (msg_…); --payload: a',
  '           JSON file (a Stripe event, or a business/custom event’s data), --type: its type if not obvious',
  '  runs     runs of the workflow, newest first; --status filtered|running|waiting|succeeded|failed,',
  '           --limit 1–500 (default 20)',
  '  run      one run with its step timeline: each step’s status, attempts and error',
  '  WORKFLOW a workflow id (wfl_…) or its exact name',
  '  --workspace  may be left out when there is only one workspace',
  '',
  'Exit status: 0 done; 1 failed (apply: an unreadable file or an invalid definition; test: a step or the',
  'trigger’s if would fail); 2 usage. While `sluice start` holds the embedded data dir, this goes through its',
  'HTTP API. See docs/workflows.md.',
].join('\n');

type WorkflowView = ReturnType<typeof workflowView>;
type RunView = ReturnType<typeof runView>;
type StepView = NonNullable<RunView['steps']>[number];
interface DryRun {
  matched: boolean;
  filtered: boolean;
  error: string | null;
  version: number;
  sent: boolean;
  steps: { stepId: string; kind: string; status: string; would?: string; branch?: unknown; error?: string }[];
}

const RUN_STATUSES = ['filtered', 'running', 'waiting', 'succeeded', 'failed'];

/** A file's JSON; `-` is stdin. Unreadable or invalid JSON is a clear error naming the file and the place. */
function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new AppError('FILE_UNREADABLE', `cannot read ${file}: ${why}`, 400);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = jsonErrorPlace(text);
    const where = at ? `line ${at.line}, column ${at.column}: ` : '';
    throw new AppError('FILE_NOT_JSON', `${file} is not valid JSON: ${where}${(err as Error).message}`, 400);
  }
}

function triggerText(t: unknown): string {
  const o = (t ?? {}) as { type?: string; source?: string; object?: string; actions?: string[]; if?: string };
  const what = o.type ?? `${o.source}/${o.object}${o.actions ? ` ${o.actions.join('|')}` : ''}`;
  return o.if ? `${what} if ${o.if}` : what;
}

function runEventType(r: RunView): string {
  const { source, type } = r.trigger as { source: string | null; type: string | null };
  return source === 'stripe' || source === 'piano' ? `${source}.${type}` : (type ?? '?');
}

function duration(fromIso: string, toIso: string | null): string {
  if (!toIso) return '';
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function printWorkflows(ws: string, all: WorkflowView[]): string {
  if (all.length === 0) return `no workflows in ${ws} yet: sluice workflow apply FILE`;
  return table([
    ['ID', 'NAME', 'VERSION', 'ENABLED', 'LAST RUN', 'TRIGGER'],
    ...all.map((w) => [w.id, w.name, String(w.version), w.enabled ? 'yes' : 'no', w.lastRunStatus ?? '-', triggerText(w.trigger)]),
  ]);
}

function printRuns(workflow: string, runs: RunView[]): string {
  if (runs.length === 0) return `no runs of ${workflow}`;
  return table([
    ['RUN', 'STATUS', 'ATTEMPT', 'EVENT', 'STARTED', 'TOOK', 'ERROR'],
    ...runs.map((r) => [
      r.id,
      r.status,
      String(r.attempt),
      runEventType(r),
      r.createdAt,
      duration(r.createdAt, r.finishedAt),
      (r.error ?? '').slice(0, 80),
    ]),
  ]);
}

function stepLine(s: StepView): string[] {
  const out = s.output as { case?: unknown; branch?: unknown; status?: unknown } | null;
  const note =
    s.kind === 'switch' && out
      ? caseText(out.case)
      : s.kind === 'if' && out
        ? `branch ${String(out.branch)}`
        : out && typeof out.status === 'number'
          ? `answered ${out.status}`
          : '';
  const attempts = s.attempts.length
    ? `${s.attempts.length} attempt${s.attempts.length === 1 ? '' : 's'}: ${s.attempts
        .map((a) => `${a.statusCode ?? (a.error ? 'no answer' : '-')} (${a.durationMs} ms)`)
        .join(', ')}`
    : '';
  const lines = [
    `  ${s.createdAt}  ${s.stepId.padEnd(16)} ${s.kind.padEnd(13)} ${(s.superseded ? `${s.status}, replaced` : s.status).padEnd(20)} ${[note, attempts].filter(Boolean).join('; ')}`.trimEnd(),
  ];
  if (s.error) lines.push(`      error: ${s.error}`);
  if (s.status === 'pending' && s.nextAttemptAt) lines.push(`      next attempt at ${s.nextAttemptAt}`);
  return lines;
}

function printRun(r: RunView): string {
  const lines = [
    `Run ${r.id} of ${r.workflowId} (version ${r.version}): ${r.status.toUpperCase()}, attempt ${r.attempt}${r.rerun ? ` (rerun at attempt ${r.rerun})` : ''}`,
    `  event:    ${runEventType(r)} ${String((r.trigger as { eventId?: string }).eventId ?? '')}${r.customerId ? `, customer ${r.customerId}` : ''}${r.mode === 'live' ? '' : ` (${r.mode})`}`,
    `  started:  ${r.createdAt}${r.finishedAt ? `, finished ${r.finishedAt} (${duration(r.createdAt, r.finishedAt)})` : ''}`,
  ];
  if (r.error) lines.push(`  error:    ${r.error}`);
  const steps = r.steps ?? [];
  lines.push('', steps.length ? 'Steps (in the order they ran; "replaced": executed again by a rerun):' : 'No step ran.');
  for (const s of steps) lines.push(...stepLine(s));
  return lines.join('\n');
}

function printDryRun(workflow: WorkflowView, source: string, d: DryRun): string {
  const head = `Dry run of ${workflow.id} "${workflow.name}" (version ${d.version}) for ${source}; nothing was sent or written.`;
  if (!d.matched) return `${head}\nThe trigger (${triggerText(workflow.trigger)}) does not match this event: the workflow would not start.`;
  if (d.error) return `${head}\nThe trigger matches, but its if fails: ${d.error}`;
  if (d.filtered) return `${head}\nThe trigger matches, but its if is false: the run would be recorded as filtered.`;
  return [
    head,
    'The trigger matches and its if passes. Steps on the path this event takes:',
    table(
      d.steps.map((s) => [
        `  ${s.stepId}`,
        s.kind,
        s.status,
        s.status === 'error'
          ? (s.error ?? '')
          : s.branch !== undefined
            ? branchText(s.branch)
            : s.status === 'skipped'
              ? 'its if is false'
              : (s.would ?? ''),
      ]),
    ),
  ].join('\n');
}

/** A dry run's switch ({value, case}) or if (then / else) decision. */
function branchText(branch: unknown): string {
  if (typeof branch === 'string') return `takes ${branch}`;
  const b = branch as { value?: unknown; case?: unknown };
  return `on ${JSON.stringify(b.value)}: takes ${caseText(b.case)}`;
}

/** A switch case as written (`when` is a value or a list of them), or the default. */
function caseText(c: unknown): string {
  if (c === 'default') return 'the default';
  return `case ${Array.isArray(c) ? c.map((v) => JSON.stringify(v)).join(' | ') : JSON.stringify(c)}`;
}

/** The workflow by id, or by its exact name (one of them). */
async function findWorkflow(access: Access, ws: string, ref: string): Promise<WorkflowView> {
  const all = await listAll(access, ws);
  const byId = all.find((w) => w.id === ref);
  if (byId) return byId;
  const named = all.filter((w) => w.name === ref);
  if (named.length === 1) return named[0]!;
  if (named.length > 1)
    throw new AppError(
      'WORKFLOW_AMBIGUOUS',
      `${named.length} workflows are named ${JSON.stringify(ref)}: ${named.map((w) => w.id).join(', ')}; give the id`,
      409,
    );
  throw new AppError('WORKFLOW_NOT_FOUND', `no workflow ${JSON.stringify(ref)} in ${ws} (give a wfl_… id or an exact name)`, 404);
}

async function listAll(access: Access, ws: string): Promise<WorkflowView[]> {
  const page: { data: WorkflowView[] } =
    access.via === 'server'
      ? await access.call('GET', `/workspaces/${encodeURIComponent(ws)}/workflows`)
      : await listWorkflowsOf(access.ctx, ws);
  return page.data;
}

type Action = 'created' | 'updated' | 'unchanged';

async function apply(
  access: Access,
  ws: string,
  definition: unknown,
): Promise<{ action: Action; workflow: WorkflowView; before?: WorkflowView }> {
  const base = `/workspaces/${encodeURIComponent(ws)}/workflows`;
  const name = (definition as { name?: unknown } | null)?.name;
  const same = typeof name === 'string' ? (await listAll(access, ws)).filter((w) => w.name === name) : [];
  if (same.length > 1)
    throw new AppError(
      'WORKFLOW_AMBIGUOUS',
      `${same.length} workflows are named ${JSON.stringify(name)} (${same.map((w) => w.id).join(', ')}); rename or delete all but one, then apply again`,
      409,
    );
  const before = same[0];
  // The file is the whole definition: without `enabled` the workflow is enabled (a PATCH would keep its state).
  const whole =
    definition !== null && typeof definition === 'object' && !Array.isArray(definition) && !('enabled' in definition)
      ? { ...definition, enabled: true }
      : definition;
  if (!before) {
    const workflow =
      access.via === 'server'
        ? await access.call<WorkflowView>('POST', base, definition)
        : await createWorkflow(access.ctx, ws, definition, { kind: 'cli' });
    return { action: 'created', workflow };
  }
  const workflow =
    access.via === 'server'
      ? await access.call<WorkflowView>('PATCH', `${base}/${before.id}`, whole)
      : await patchWorkflow(access.ctx, ws, before.id, whole, { kind: 'cli' });
  const unchanged = workflow.version === before.version && workflow.enabled === before.enabled;
  return { action: unchanged ? 'unchanged' : 'updated', workflow, before };
}

function printApplied(file: string, r: Awaited<ReturnType<typeof apply>>): string {
  const w = r.workflow;
  if (r.action === 'created') return `Created workflow ${w.id} "${w.name}" (version 1${w.enabled ? '' : ', disabled'}) from ${file}`;
  if (r.action === 'unchanged')
    return `Workflow ${w.id} "${w.name}" is unchanged (version ${w.version}): ${file} holds the same definition`;
  const changes: string[] = [];
  if (w.version !== r.before!.version) changes.push(`version ${w.version} (was ${r.before!.version}); runs already started stay on theirs`);
  if (w.enabled !== r.before!.enabled) changes.push(w.enabled ? 'enabled' : 'disabled');
  return `Updated workflow ${w.id} "${w.name}": ${changes.join(', ')}`;
}

/** Every problem of a refused definition, one per line, for a person; --json gets them in the error object. */
function validationFailure(file: string, err: AppError, json: boolean): number {
  const problems = (err.details.problems ?? []) as { path: string; message: string }[];
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, problems } }, null, 2)}\n`);
    return 1;
  }
  const lines = [
    `sluice workflow: ${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was saved [${err.code}]`,
  ];
  for (const p of problems) lines.push(`  ${p.path || '(definition)'}: ${p.message}`);
  if (problems.length === 0) lines.push(`  ${err.message}`);
  process.stderr.write(`${lines.join('\n')}\n`);
  return 1;
}

export const workflowCommand: Command = {
  summary: 'list, apply (create or update from a JSON file), dry-run workflows and show their runs',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseOptions(
      args,
      {
        workspace: { type: 'string' },
        event: { type: 'string' },
        payload: { type: 'string' },
        type: { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    const [sub, target, ...extra] = positionals;
    const subs = ['list', 'apply', 'test', 'runs', 'run'];
    if (!sub || !subs.includes(sub))
      throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'give a subcommand: list, apply, test, runs or run');
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (sub === 'list' && target !== undefined) throw new UsageError(`unexpected argument "${target}"`);
    if (sub !== 'list' && !target)
      throw new UsageError(
        sub === 'apply'
          ? 'give the file: sluice workflow apply FILE'
          : sub === 'run'
            ? 'give the run id: sluice workflow run wfr_…'
            : `give the workflow: sluice workflow ${sub} wfl_…`,
      );
    const only = (opts: string[], forSub: string) => {
      for (const o of opts)
        if (values[o as keyof typeof values] !== undefined) throw new UsageError(`--${o} is for sluice workflow ${forSub} only`);
    };
    if (sub !== 'test') only(['event', 'payload', 'type'], 'test');
    if (sub !== 'runs') only(['status', 'limit'], 'runs');
    if (sub === 'test') {
      if ((values.event === undefined) === (values.payload === undefined))
        throw new UsageError('give --event EVT or --payload FILE (one of them)');
      if (values.type !== undefined && values.payload === undefined) throw new UsageError('--type goes with --payload');
    }
    let limit = 20;
    if (sub === 'runs') {
      if (values.status !== undefined && !RUN_STATUSES.includes(values.status))
        throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}`);
      if (values.limit !== undefined) {
        limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be a whole number from 1 to 500');
      }
    }
    // Files are read before connecting: a typo in a path fails fast.
    const definition = sub === 'apply' ? readJsonFile(target!) : undefined;
    const payload = sub === 'test' && values.payload !== undefined ? readJsonFile(values.payload) : undefined;

    const access = await openAccess(loadConfig());
    let out: string;
    let code = 0;
    try {
      const ws = await workspaceOf(access, values.workspace);
      const wsPath = `/workspaces/${encodeURIComponent(ws)}`;
      if (sub === 'list') {
        const all = await listAll(access, ws);
        out = values.json ? JSON.stringify(all, null, 2) : printWorkflows(ws, all);
      } else if (sub === 'apply') {
        let applied;
        try {
          applied = await apply(access, ws, definition);
        } catch (err) {
          if (err instanceof AppError && err.code === 'VALIDATION_FAILED' && Array.isArray(err.details.problems))
            return validationFailure(target!, err, values.json === true);
          throw err;
        }
        out = values.json ? JSON.stringify(applied, null, 2) : printApplied(target!, applied);
      } else if (sub === 'test') {
        const w = await findWorkflow(access, ws, target!);
        const body =
          values.event !== undefined ? { eventId: values.event } : { payload, ...(values.type !== undefined ? { type: values.type } : {}) };
        const dry =
          access.via === 'server'
            ? await access.call<DryRun>('POST', `${wsPath}/workflows/${w.id}/test`, body)
            : ((await testWorkflow(access.ctx, ws, w.id, body)) as DryRun);
        if (dry.error || dry.steps.some((s) => s.status === 'error')) code = 1;
        out = values.json ? JSON.stringify(dry, null, 2) : printDryRun(w, values.event ?? values.payload!, dry);
      } else if (sub === 'runs') {
        const w = await findWorkflow(access, ws, target!);
        const query = { limit: String(limit), ...(values.status ? { status: values.status } : {}) };
        const page: { data: RunView[] } =
          access.via === 'server'
            ? await access.call('GET', `${wsPath}/workflows/${w.id}/runs?${new URLSearchParams(query).toString()}`)
            : await listWorkflowRuns(access.ctx, ws, w.id, query);
        out = values.json ? JSON.stringify(page.data, null, 2) : printRuns(`${w.id} "${w.name}"`, page.data);
      } else {
        const run: RunView =
          access.via === 'server'
            ? await access.call('GET', `${wsPath}/runs/${encodeURIComponent(target!)}`)
            : await getRun(access.ctx, ws, target!);
        out = values.json ? JSON.stringify(run, null, 2) : printRun(run);
      }
    } finally {
      if (access.via === 'direct') await access.close();
    }
    process.stdout.write(`${out}\n`);
    return code;
  },
};
