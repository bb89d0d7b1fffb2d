// Definitions: the INTERFACE.md example validates and runs its compiled parts; every problem is listed with
// its path in one result; defaults are filled in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildContext } from './context.js';
import { parseDuration, validateDefinition, type CompiledWorkflow, type WorkflowDefinition } from './definition.js';

const example = {
  name: 'Course buyers',
  enabled: true,
  trigger: {
    source: 'stripe',
    object: 'checkout_session',
    actions: ['completed', 'expired'],
    if: "event.payment_status == 'paid' || event.action == 'expired'",
  },
  steps: [
    {
      id: 'route',
      kind: 'switch',
      on: 'event.action',
      cases: [
        {
          when: 'completed',
          steps: [
            { id: 'grant', kind: 'access.grant', resource: 'course-101' },
            {
              id: 'notify',
              kind: 'http',
              method: 'POST',
              url: 'https://example.com/enrolled',
              headers: { authorization: 'Bearer {{ secrets.APP_TOKEN }}' },
              body: { email: '{{ customer.email }}', session: '{{ event.id }}' },
              retry: { max: 5 },
            },
          ],
        },
        { when: 'expired', steps: [{ id: 'tag', kind: 'crm.tag', add: ['checkout-expired'] }] },
      ],
      default: [],
    },
  ],
};

function valid(input: unknown): { definition: WorkflowDefinition; compiled: CompiledWorkflow } {
  const r = validateDefinition(input);
  if (!r.ok) assert.fail(JSON.stringify(r.problems, null, 1));
  return r;
}

function problems(input: unknown): { path: string; message: string }[] {
  const r = validateDefinition(input);
  assert.equal(r.ok, false, 'should be invalid');
  return (r as { problems: { path: string; message: string }[] }).problems;
}

const withSteps = (steps: unknown[], trigger: unknown = { source: 'sluice', object: 'subscription', actions: ['canceled'] }) => ({
  name: 'x',
  trigger,
  steps,
});

describe('validateDefinition: the example', () => {
  test('validates, normalizes and compiles', () => {
    const { definition, compiled } = valid(example);
    assert.deepEqual(compiled.stepIds, ['route', 'grant', 'notify', 'tag']);
    const notify = (definition.steps[0]!.cases as { steps: Record<string, unknown>[] }[])[0]!.steps[1]!;
    assert.deepEqual(notify.retry, { max: 5, backoff: 'exponential' });
    assert.equal(notify.onError, 'fail');
    const grant = (definition.steps[0]!.cases as { steps: Record<string, unknown>[] }[])[0]!.steps[0]!;
    assert.deepEqual(grant.retry, { max: 3, backoff: 'exponential' });
    assert.equal(JSON.stringify(JSON.parse(JSON.stringify(definition))), JSON.stringify(definition), 'plain JSON to store');
    // What is stored is compiled again for every run: the normalized definition validates to itself.
    assert.deepEqual(valid(JSON.parse(JSON.stringify(definition))).definition, definition);
  });

  test('the compiled parts run against a context built from an event', () => {
    const { compiled } = valid(example);
    const ctx = buildContext({
      event: {
        source: 'stripe',
        type: 'checkout.session.completed',
        id: 'evt_1',
        payload: { id: 'evt_1', created: 1764547200, livemode: false, data: { object: { id: 'cs_1', payment_status: 'paid' } } },
      },
      customer: { id: 'cus_1', email: 'ada@example.com', name: 'Ada', tags: [], attributes: {}, access: [] },
      run: { id: 'run_1', attempt: 1, mode: 'live' },
      secrets: { APP_TOKEN: 'tok' },
    });
    assert.equal(compiled.condition!.evaluate(ctx), true);
    const route = compiled.steps[0]!;
    assert.equal(route.on!.evaluate(ctx), 'completed');
    assert.deepEqual(route.cases![0]!.when, ['completed']);
    const notify = route.cases![0]!.steps[1]!;
    assert.deepEqual(notify.input.render(ctx), {
      ok: true,
      value: {
        url: 'https://example.com/enrolled',
        method: 'POST',
        headers: { authorization: 'Bearer tok' },
        body: { email: 'ada@example.com', session: 'cs_1' },
      },
    });
  });

  test('defaults: enabled, switch on event.action, http method POST, delays', () => {
    const { definition } = valid(
      withSteps([
        { id: 'r', kind: 'switch', cases: [{ when: ['canceled'], steps: [{ id: 'w', kind: 'delay', for: '2s' }] }] },
        { id: 'h', kind: 'http', url: 'https://example.com/{{ event.id }}', onError: 'continue' },
        { id: 'd', kind: 'delay', until: '{{ event.endsAt }}' },
        { id: 'i', kind: 'if', if: "'vip' in customer.tags", steps: [{ id: 'u', kind: 'crm.untag', remove: ['dunning'] }], else: [] },
      ]),
    );
    assert.equal(definition.enabled, true);
    assert.equal(definition.steps[0]!.on, 'event.action');
    assert.equal(definition.steps[1]!.method, 'POST');
    assert.equal(definition.steps[1]!.onError, 'continue');
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('3d'), 259_200_000);
    assert.equal(parseDuration('soon'), null);
  });

  test('every step kind in one workflow', () => {
    valid(
      withSteps([
        {
          id: 'a',
          kind: 'http',
          method: 'get',
          url: 'https://example.com',
          query: { q: '{{ event.id }}' },
          timeoutMs: 5000,
          expect: [200, 204],
        },
        { id: 'b', kind: 'webhook.send', type: 'course.enrolled', data: { id: '{{ event.id }}' } },
        { id: 'c', kind: 'slack', webhook: '{{ secrets.SLACK }}', text: 'Canceled: {{ customer.email }}' },
        { id: 'd', kind: 'discord', webhook: 'https://discord.com/api/webhooks/1/x', content: 'hi', embeds: [] },
        { id: 'e', kind: 'email', to: ['{{ customer.email }}'], subject: 'Bye', text: 'See you' },
        { id: 'f', kind: 'crm.tag', add: ['churned'] },
        { id: 'g', kind: 'crm.set', attributes: { churnedAt: '{{ trigger.created }}' } },
        { id: 'h', kind: 'access.grant', resource: 'archive', until: '2027-01-01T00:00:00Z' },
        { id: 'i', kind: 'access.revoke', resource: 'course-101' },
        { id: 'j', kind: 'event.emit', type: 'member.left', data: { customer: '{{ customer.id }}', grant: '{{ steps.h.output }}' } },
      ]),
    );
  });
});

describe('validateDefinition: every problem in one result', () => {
  test('the listed bad inputs, each with its path', () => {
    const list = problems({
      name: '',
      extra: true,
      trigger: { source: 'stripe', object: 'checkout_sesion', if: 'event.paid ==' },
      steps: [
        { id: 'a', kind: 'http', url: 'ftp://example.com', body: { token: '{{ secrets.TOKEN }}', x: '{{ steps.ghost.output }}' } },
        { id: 'a', kind: 'delay' },
        { id: 'b', kind: 'crm.tag', add: [], colour: 'red' },
        { id: 'c', kind: 'webhook.send', type: 'subscription.canceled', data: {} },
        { id: 'd', kind: 'teleport' },
        { id: 'e', kind: 'crm.set', if: 'secrets.X == "1"', attributes: { a: 1 } },
      ],
    });
    const byPath = Object.fromEntries(list.map((p) => [p.path, p.message]));
    assert.match(byPath.name!, /name is required/);
    assert.match(byPath.extra!, /unknown field "extra"/);
    assert.match(byPath['trigger.object']!, /unknown stripe object "checkout_sesion" \(did you mean "checkout_session"\?\)/);
    assert.match(byPath['trigger.if']!, /syntax error \(column 14\)/);
    assert.match(byPath['steps[0].url']!, /must start with http:\/\/ or https:\/\//);
    assert.match(byPath['steps[0].body.token']!, /secrets can be used only in URLs and headers/);
    assert.match(byPath['steps[0].body.x']!, /steps\.ghost refers to no step; step ids are a, b, c, d, e/);
    assert.match(byPath['steps[1].id']!, /step id "a" is used more than once/);
    assert.match(byPath['steps[1]']!, /a delay needs for .* or until/);
    assert.match(byPath['steps[2].add']!, /non-empty list/);
    assert.match(byPath['steps[2].colour']!, /unknown field "colour" for a crm.tag step/);
    assert.match(byPath['steps[3].type']!, /business event Sluice derives itself/);
    assert.match(byPath['steps[4].kind']!, /kind must be one of/);
    assert.match(byPath['steps[5].if']!, /secrets can be used only in URLs and headers, not in conditions/);
  });

  test('step references: unknown, later, own, ancestor, from the trigger', () => {
    const list = problems({
      name: 'refs',
      trigger: { source: 'sluice', object: 'order', if: 'steps.a.output != null' },
      steps: [
        { id: 'a', kind: 'crm.set', attributes: { x: '{{ steps.b.output }}', y: '{{ steps.a.output }}' } },
        { id: 'b', kind: 'if', if: 'true', steps: [{ id: 'c', kind: 'crm.tag', add: ['{{ steps.b.output }}'] }] },
      ],
    });
    const messages = list.map((p) => `${p.path}: ${p.message}`);
    assert.ok(messages.some((m) => /^trigger\.if: .*checked before any step runs/.test(m)));
    assert.ok(messages.some((m) => /^steps\[0\]\.attributes\.x: steps\.b has not finished when step a runs/.test(m)));
    assert.ok(messages.some((m) => /^steps\[0\]\.attributes\.y: step a cannot read its own output/.test(m)));
    assert.ok(messages.some((m) => /^steps\[1\]\.steps\[0\]\.add\[0\]: steps\.b has not finished/.test(m)));
  });

  test('nested problems in switch and if branches keep their paths', () => {
    const list = problems(
      withSteps([
        {
          id: 'r',
          kind: 'switch',
          cases: [
            { when: 'canceled', steps: [{ id: 'x', kind: 'http', url: 'https://e.com', timeoutMs: 1 }] },
            { when: 'canceled', steps: [] },
            { when: 'refunded', steps: [] },
          ],
          default: [{ id: 'y', kind: 'delay', for: 'forever' }],
          retry: { max: 2 },
        },
        { id: 'i', kind: 'if', steps: [{ id: 'z', kind: 'email', to: 'a@b.c', subject: 'x' }] },
      ]),
    );
    const paths = list.map((p) => p.path);
    assert.deepEqual(paths.sort(), [
      'steps[0].cases[0].steps[0].timeoutMs',
      'steps[0].cases[1].when',
      'steps[0].cases[2].when',
      'steps[0].default[0].for',
      'steps[0].retry',
      'steps[1].if',
      'steps[1].steps[0]',
    ]);
    assert.match(list.find((p) => p.path === 'steps[0].cases[2].when')!.message, /not among the trigger's actions \(canceled\)/);
    assert.match(list.find((p) => p.path === 'steps[0].cases[1].when')!.message, /already matched by case 0/);
  });

  test('more problems: http fields, delay both, durations, ids, emits', () => {
    const list = problems(
      withSteps([
        { id: '1st', kind: 'http', method: 'FETCH', url: 'https://e.com', expect: 700, headers: { a: 1 } },
        { id: 'w', kind: 'delay', for: '1s', until: '2026-01-01T00:00:00Z' },
        { id: 'w2', kind: 'delay', for: '100d' },
        { id: 'e', kind: 'event.emit', type: 'stripe.fake', data: {} },
        { id: 'e2', kind: 'event.emit', type: '{{ event.kind }}', data: {} },
      ]),
    );
    const paths = list.map((p) => p.path);
    for (const p of [
      'steps[0].id',
      'steps[0].method',
      'steps[0].expect',
      'steps[0].headers.a',
      'steps[1]',
      'steps[2].for',
      'steps[3].type',
      'steps[4].type',
    ]) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    }
  });

  test('not an object, empty steps, too many steps', () => {
    assert.equal(problems(null)[0]!.path, '');
    assert.ok(problems(withSteps([])).some((p) => p.path === 'steps'));
    const many = Array.from({ length: 101 }, (_, i) => ({ id: `s${i}`, kind: 'crm.tag', add: ['x'] }));
    assert.ok(problems(withSteps(many)).some((p) => /more than 100 steps/.test(p.message)));
  });
});
