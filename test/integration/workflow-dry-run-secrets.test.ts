// A dry run of steps whose URL is a secret (a Slack or Discord webhook kept as a secret, as the docs advise) or
// has one in its path: the request is shown with the markers where the secrets go — never their values — instead of failing
// with "not a valid URL" because the secret was never opened. Nothing is sent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const LOOPBACK = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' as const }];

describe('workflow dry runs with secret URLs', () => {
  let app: TestApp;
  let receiver: Receiver;
  before(async () => {
    app = await startTestApp({ config: { outboundAllow: LOOPBACK } });
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await app.close();
  });

  test('webhook URLs that are a secret, and URLs with one in their path, are shown with their markers; nothing is sent', async () => {
    const ws = (await app.api('POST', '/api/v1/workspaces', { name: 'dry secrets' })).body.id as string;
    const call = (method: string, path: string, body?: unknown) => app.api(method, `/api/v1/workspaces/${ws}${path}`, body);
    for (const [name, value] of [
      ['SLACK_URL', `${receiver.url}/slack/T1/B1/secret-path`],
      ['DISCORD_URL', `${receiver.url}/discord/123/token`],
      ['TOKEN', 'tok-never-shown'],
    ])
      assert.equal((await call('PUT', `/secrets/${name}`, { value })).status, 200);
    const created = await call('POST', '/workflows', {
      name: 'Tell the team',
      trigger: { type: 'course.enrolled' },
      steps: [
        { id: 'slack', kind: 'slack', webhook: '{{ secrets.SLACK_URL }}', text: 'Enrolled in {{ event.course }}' },
        { id: 'discord', kind: 'discord', webhook: '{{ secrets.DISCORD_URL }}', content: 'Enrolled' },
        {
          id: 'api',
          kind: 'http',
          url: `${receiver.url}/courses/{{ secrets.TOKEN }}/{{ event.course }}`,
          body: { course: '{{ event.course }}' },
        },
      ],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const res = await call('POST', `/workflows/${created.body.id}/test`, { payload: { course: 'c-101' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.steps.map((s: any) => [s.stepId, s.status, s.error]),
      [
        ['slack', 'would_run', undefined],
        ['discord', 'would_run', undefined],
        ['api', 'would_run', undefined],
      ],
    );
    const [slack, discord, api] = res.body.steps;
    assert.equal(slack.request.url, '⟦secret:SLACK_URL⟧');
    assert.deepEqual(slack.request.body, { text: 'Enrolled in c-101' });
    assert.equal(slack.would, 'would POST ⟦secret:SLACK_URL⟧ with {"text":"Enrolled in c-101"}');
    assert.equal(discord.request.url, '⟦secret:DISCORD_URL⟧?wait=true');
    assert.equal(api.request.url, `${receiver.url}/courses/⟦secret:TOKEN⟧/c-101`, 'a marker inside a URL, as written');
    const text = JSON.stringify(res.body);
    for (const value of ['secret-path', '/discord/123', 'tok-never-shown']) assert.ok(!text.includes(value), `no secret value: ${value}`);
    // A URL with no secret that is not one is still an error.
    const bad = await call('POST', '/workflows', {
      name: 'Bad hook',
      trigger: { type: 'course.enrolled' },
      steps: [{ id: 'slack', kind: 'slack', webhook: '{{ event.hook }}', text: 'x' }],
    });
    const badRun = await call('POST', `/workflows/${bad.body.id}/test`, { payload: { hook: 'not a url' } });
    assert.equal(badRun.body.steps[0].status, 'error');
    assert.match(badRun.body.steps[0].error, /webhook is not a valid URL/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(receiver.requests.length, 0, 'nothing sent');
  });
});
