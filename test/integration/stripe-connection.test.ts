// Connection updates lock their row: concurrent saves of different fields all land (no lost update), for
// Stripe and Piano, with and without an existing row.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';

const ROUNDS = 12;

describe('concurrent connection updates', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ worker: false });
  });
  after(() => app.close());

  const workspace = async (name: string) => (await app.api('POST', '/api/v1/workspaces', { name })).body.id as string;
  const put = (ws: string, provider: string, body: unknown) => app.api('PUT', `/api/v1/workspaces/${ws}/connections/${provider}`, body);

  test('Stripe: a signing secret and an API key saved at the same time are both kept', async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const ws = await workspace(`stripe race ${round}`);
      // Every other round starts from an existing row, the others from none (the first save creates it).
      if (round % 2 === 1) assert.equal((await put(ws, 'stripe', { webhookSecrets: ['whsec_first_0123456789'] })).status, 200);
      const answers = await Promise.all([
        put(ws, 'stripe', { webhookSecrets: ['whsec_first_0123456789', 'whsec_second_0123456789'] }),
        put(ws, 'stripe', { apiKey: 'sk_test_concurrent0123456789' }),
        put(ws, 'stripe', { mode: 'test' }),
      ]);
      // With no row yet, a save of the mode alone is refused (nothing to connect with) unless it ran after another.
      for (const a of answers) assert.ok(a.status === 200 || a.status === 400, JSON.stringify(a.body));
      const view = (await app.api('GET', `/api/v1/workspaces/${ws}/connections/stripe`)).body;
      assert.equal(view.webhookSecretCount, 2, `round ${round}: the secrets survive`);
      assert.equal(view.hasApiKey, true, `round ${round}: the API key survives`);
      if (answers[2]!.status === 200) assert.equal(view.mode, 'test', `round ${round}: the mode survives`);
    }
  });

  test('Piano: an API token and settings saved at the same time are all kept', async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const ws = await workspace(`piano race ${round}`);
      assert.equal((await put(ws, 'piano', { aid: 'AppRace1', privateKey: 'PianoRaceKey0123456789abcdef' })).status, 200);
      const answers = await Promise.all([
        put(ws, 'piano', { apiToken: 'piano_api_token_0123456789' }),
        put(ws, 'piano', { requireHmac: false }),
        put(ws, 'piano', { mergeCustomersByEmail: false }),
        put(ws, 'piano', { region: 'eu' }),
      ]);
      for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
      const view = (await app.api('GET', `/api/v1/workspaces/${ws}/connections/piano`)).body;
      assert.deepEqual(
        { hasApiToken: view.hasApiToken, requireHmac: view.requireHmac, merge: view.mergeCustomersByEmail, region: view.region },
        { hasApiToken: true, requireHmac: false, merge: false, region: 'eu' },
        `round ${round}`,
      );
    }
  });
});
