// `sluice workflow list | apply FILE | test WORKFLOW --event EVT | runs WORKFLOW | run RUN` against a running
// server: through its HTTP API on the embedded database, directly on PostgreSQL. Apply creates, then updates
// only when the definition changed, and refuses an invalid file with every problem; usage errors exit 2.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../helpers/app.js';
import { createTestStore } from '../helpers/db.js';
import { processApi, runSluice, startSluiceProcess } from '../helpers/sluice-process.js';

const TOKEN = 'workflow_cli_admin_token_0123456789';

test('sluice workflow list, apply, test, runs and run', { timeout: 420_000 }, async () => {
  const store = await createTestStore();
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-wf-cli-'));
  const env = { ...store.env, SLUICE_ADMIN_TOKEN: TOKEN };
  const server = await startSluiceProcess(env);
  const api = processApi(TOKEN);
  const sluice = (...args: string[]) => runSluice(['workflow', ...args], env);
  const file = (name: string, content: unknown) => {
    const p = path.join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return p;
  };
  try {
    const ws = (await api(server.url, 'POST', '/workspaces', { name: 'cli' })).body.id as string;
    const definition = {
      name: 'Enrolment',
      trigger: { type: 'course.enrolled' },
      steps: [
        { id: 'log', kind: 'event.emit', type: 'course.logged', data: { course: '{{ event.course }}' } },
        { id: 'vip', kind: 'event.emit', type: 'course.vip', data: {}, if: "event.course == 'gold'" },
      ],
    };
    const v1 = file('enrolment.json', definition);

    const created = await sluice('apply', v1);
    assert.equal(created.code, 0, created.stderr);
    const id = /Created workflow (wfl_\w+) "Enrolment" \(version 1\)/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    const same = await sluice('apply', v1, '--workspace', ws);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, new RegExp(`Workflow ${id} "Enrolment" is unchanged \\(version 1\\)`));
    // The same definition with its keys in another order is the same definition.
    const reordered = file('reordered.json', { steps: definition.steps, trigger: definition.trigger, name: 'Enrolment' });
    assert.match((await sluice('apply', reordered)).stdout, /is unchanged/);
    const v2 = file('enrolment-v2.json', {
      ...definition,
      steps: [...definition.steps, { id: 'tail', kind: 'event.emit', type: 'course.tail', data: {} }],
    });
    const updated = await sluice('apply', v2, '--json');
    assert.equal(updated.code, 0, updated.stderr);
    const u = JSON.parse(updated.stdout);
    assert.equal(u.action, 'updated');
    assert.equal(u.workflow.id, id);
    assert.equal(u.workflow.version, 2);
    assert.equal((await api(server.url, 'GET', `/workspaces/${ws}/workflows/${id}/versions`)).body.data.length, 2);
    // The file is the whole definition: a workflow disabled meanwhile is enabled again, with no new version.
    assert.equal((await api(server.url, 'PATCH', `/workspaces/${ws}/workflows/${id}`, { enabled: false })).body.enabled, false);
    assert.match((await sluice('apply', v2)).stdout, new RegExp(`^Updated workflow ${id} "Enrolment": enabled$`, 'm'));
    assert.equal((await api(server.url, 'GET', `/workspaces/${ws}/workflows/${id}`)).body.version, 2);

    // Refused: every problem with its path, nothing saved; unreadable files and bad JSON say so.
    const invalid = file('invalid.json', {
      name: 'Enrolment',
      trigger: { source: 'stripe', object: 'checkout_sesion' },
      steps: [{ id: 'a', kind: 'http', url: 'ftp://x', body: { x: '{{ steps.ghost.output }}' } }],
    });
    const refused = await sluice('apply', invalid);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /invalid\.json: \d+ problems; nothing was saved \[VALIDATION_FAILED\]/);
    for (const p of ['trigger.object', 'steps[0].url', 'steps[0].body.x'])
      assert.ok(refused.stderr.includes(`\n  ${p}: `), `${p} in ${refused.stderr}`);
    const refusedJson = JSON.parse((await sluice('apply', invalid, '--json')).stdout);
    assert.equal(refusedJson.error.code, 'VALIDATION_FAILED');
    assert.ok(refusedJson.error.problems.some((p: { path: string }) => p.path === 'trigger.object'));
    assert.equal((await api(server.url, 'GET', `/workspaces/${ws}/workflows/${id}`)).body.version, 2, 'nothing saved');
    const badJson = await sluice('apply', file('bad.json', '{"name": "x",\n  "steps": [}'));
    assert.equal(badJson.code, 1);
    assert.match(badJson.stderr, /bad\.json is not valid JSON: line 2, column 13: /);
    const missing = await sluice('apply', path.join(dir, 'nope.json'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.json: no such file \[FILE_UNREADABLE\]/);

    const list = await sluice('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID +NAME +VERSION +ENABLED +LAST RUN +TRIGGER$/m);
    assert.match(list.stdout, new RegExp(`^${id} +Enrolment +2 +yes +- +course\\.enrolled$`, 'm'));

    // A run, then its dry run against the same stored event, the run list and the run's timeline.
    const msg = (await api(server.url, 'POST', `/workspaces/${ws}/events`, { type: 'course.enrolled', data: { course: 'gold' } })).body
      .message.id;
    const run = await waitFor(
      async () => {
        const r = (await api(server.url, 'GET', `/workspaces/${ws}/workflows/${id}/runs`)).body.data[0];
        return r?.status === 'succeeded' ? r : null;
      },
      'run succeeded',
      30_000,
    );

    const dry = await sluice('test', 'Enrolment', '--event', msg);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /nothing was sent or written/);
    assert.match(dry.stdout, /log +event\.emit +would_run +would emit course\.logged with \{"course":"gold"\}/);
    assert.match(dry.stdout, /vip +event\.emit +would_run/);
    const payload = file('payload.json', { course: 'silver' });
    const dryPayload = JSON.parse((await sluice('test', id!, '--payload', payload, '--json')).stdout);
    assert.deepEqual(
      dryPayload.steps.map((s: { status: string }) => s.status),
      ['would_run', 'skipped', 'would_run'],
    );
    assert.equal((await api(server.url, 'GET', `/workspaces/${ws}/workflows/${id}/runs`)).body.data.length, 1, 'a dry run starts no run');

    const runs = await sluice('runs', id!);
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, /^RUN +STATUS +ATTEMPT +EVENT +STARTED +TOOK +ERROR$/m);
    assert.match(runs.stdout, new RegExp(`^${run.id} +succeeded +1 +course\\.enrolled `, 'm'));
    assert.match((await sluice('runs', id!, '--status', 'failed')).stdout, /no runs of/);
    const one = await sluice('run', run.id);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^Run ${run.id} of ${id} \\(version 2\\): SUCCEEDED, attempt 1$`, 'm'));
    assert.match(one.stdout, /^ {2}\S+ +log +event\.emit +succeeded$/m);
    assert.match(one.stdout, /^ {2}\S+ +tail +event\.emit +succeeded$/m);
    const asJson = JSON.parse((await sluice('run', run.id, '--json')).stdout);
    assert.deepEqual(
      asJson.steps.map((s: { stepId: string }) => s.stepId),
      ['log', 'vip', 'tail'],
    );

    // Usage errors exit 2 with a hint; a run of another workspace is not found.
    for (const args of [
      [],
      ['apply'],
      ['test', id!],
      ['test', id!, '--event', msg, '--payload', payload],
      ['runs', id!, '--status', 'nope'],
      ['runs', id!, '--limit', '0'],
      ['list', '--event', msg],
      ['frobnicate'],
    ]) {
      const r = await sluice(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /see sluice workflow --help/);
    }
    const unknown = await sluice('runs', 'No such workflow');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no workflow "No such workflow"/);

    // `sluice retention run` reports the workflow runs it deleted (none here: they are young).
    const retention = await runSluice(['retention', 'run', '--workspace', ws], env);
    assert.equal(retention.code, 0, retention.stderr);
    assert.match(retention.stdout, /workflow runs kept 30 days: 0 deleted/);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
    await store.drop();
  }
});
