// The workflow templates shipped in templates/workflows/ are valid definitions as they are, each described in
// the directory's README, and their conditions and templates evaluate on the events they are meant for.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildContext, type ContextEventInput } from './context.js';
import { validateDefinition, type CompiledStep } from './definition.js';
import { secretMarkers } from './plan.js';

const DIR = new URL('../../templates/workflows/', import.meta.url);
const load = (file: string) => JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as unknown;

test('every template validates as it is and is described in the README', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.sort(), ['course-purchase.json', 'dunning.json', 'revoke-on-end.json', 'welcome.json']);
  const readme = readFileSync(new URL('README.md', DIR), 'utf8');
  for (const file of files) {
    const r = validateDefinition(load(file));
    assert.deepEqual(r.ok ? [] : r.problems, [], file);
    assert.ok(readme.includes(`\`${file}\``), `${file} is described in README.md`);
  }
});

const customer = { id: 'cus_1', email: 'ann@example.com', name: 'Ann', tags: [], attributes: {}, access: [] };

/** The trigger's verdict and every step's rendered input (all branches) for one event. */
function evaluate(file: string, event: ContextEventInput) {
  const r = validateDefinition(load(file));
  assert.ok(r.ok, file);
  const context = buildContext({
    event,
    customer,
    run: { id: 'wfr_t', attempt: 1, mode: 'live' },
    secrets: secretMarkers(['SLACK_URL', 'DISCORD_URL']),
  });
  const inputs: Record<string, unknown> = {};
  const walk = (steps: CompiledStep[]) => {
    for (const s of steps) {
      const rendered = s.input.render(context);
      assert.ok(rendered.ok, `${file} ${s.id}: ${rendered.ok ? '' : rendered.problem.message}`);
      inputs[s.id] = rendered.value;
      for (const c of s.cases ?? []) walk(c.steps);
      walk([...(s.default ?? []), ...(s.then ?? []), ...(s.else ?? [])]);
    }
  };
  walk(r.compiled.steps);
  return { passes: r.compiled.condition ? r.compiled.condition.evaluate(context) === true : true, inputs };
}

test('the templates evaluate on their events', () => {
  const invoice = (type: string, amount: number): ContextEventInput => ({
    source: 'stripe',
    type,
    id: 'evt_1',
    payload: {
      id: 'evt_1',
      type,
      created: 1_700_000_000,
      data: { object: { id: 'in_1', object: 'invoice', amount_due: amount, currency: 'eur' } },
    },
  });
  const failed = evaluate('dunning.json', invoice('invoice.payment_failed', 9050));
  assert.equal(failed.passes, true);
  assert.deepEqual(failed.inputs.tell_slack, {
    webhook: '⟦secret:SLACK_URL⟧',
    text: 'Payment failed: invoice in_1 of ann@example.com, 90.5 eur due. Tagged dunning.',
  });
  assert.equal(evaluate('dunning.json', invoice('invoice.payment_failed', 900)).passes, false, 'under the threshold');
  assert.equal(evaluate('dunning.json', invoice('invoice.paid', 900)).passes, true, 'paid: always untagged');

  const session = (metadata: Record<string, string>): ContextEventInput => ({
    source: 'stripe',
    type: 'checkout.session.completed',
    id: 'evt_2',
    payload: {
      id: 'evt_2',
      data: { object: { id: 'cs_1', payment_status: 'paid', metadata, customer_details: { email: 'bea@example.com' } } },
    },
  });
  const course = evaluate('course-purchase.json', session({}));
  assert.equal(course.passes, true);
  assert.deepEqual(course.inputs.grant, { resource: 'course' });
  assert.equal((course.inputs.receipt as { to: string }).to, 'bea@example.com');
  assert.deepEqual(evaluate('course-purchase.json', session({ course: 'ts-101' })).inputs.grant, { resource: 'ts-101' });

  const ended = evaluate('revoke-on-end.json', {
    source: 'sluice',
    type: 'subscription.ended',
    id: 'msg_1',
    payload: { subscription: { id: 'sub_x', provider: 'piano', providerId: 'RC1', customerId: 'cus_1' } },
  });
  assert.match((ended.inputs.tell_discord as { content: string }).content, /^Subscription RC1 of ann@example.com ended \(piano\)/);

  const welcome = (name: string | null, email: string | null): ContextEventInput => ({
    source: 'sluice',
    type: 'customer.created',
    id: 'msg_2',
    payload: { customer: { id: 'cus_1', provider: 'stripe', providerId: 'cus_p', email, name, deleted: false } },
  });
  const hello = evaluate('welcome.json', welcome(null, 'new@example.com'));
  assert.equal(hello.passes, true);
  assert.match((hello.inputs.welcome as { text: string }).text, /^Hello there,/);
  assert.equal(evaluate('welcome.json', welcome('Ann', null)).passes, false, 'no email, no welcome');
});
