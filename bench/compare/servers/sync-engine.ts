// Stripe's sync engine (`@supabase/stripe-sync-engine`) as its README shows it: `runMigrations` into its own
// `stripe` schema, then a `StripeSync` with a pool config and the webhook secret, and `processWebhook(rawBody,
// signature)` for each request (it verifies, then upserts the subscription and its items before answering).
// It is a library; the HTTP server around it is a few lines of Fastify keeping the raw body, as its own Fastify
// app does. For customer.subscription.updated with `items.has_more: false` and the default options it makes no
// call to api.stripe.com (no revalidation, no list expansion, no related-entity backfill), so no stand-in is needed.
//   PORT=… WEBHOOK_SECRET=… DATABASE_URL=… node --import tsx bench/compare/servers/sync-engine.ts
import { createRequire } from 'node:module';
import type * as SyncEngine from '@supabase/stripe-sync-engine';
import Fastify from 'fastify';

// Its ESM build (0.48.x) calls `__dirname` in runMigrations and fails; the CommonJS build works.
const { runMigrations, StripeSync } = createRequire(import.meta.url)('@supabase/stripe-sync-engine') as typeof SyncEngine;

const databaseUrl = process.env.DATABASE_URL!;
// runMigrations logs its errors instead of throwing them: fail the start if there was one.
let migrationError: unknown = null;
const logger = { info() {}, warn() {}, error: (e: unknown) => (migrationError = e) };
await runMigrations({ databaseUrl, schema: 'stripe', logger: logger as never });
if (migrationError) throw migrationError;
const sync = new StripeSync({
  poolConfig: { connectionString: databaseUrl, max: 10 },
  stripeSecretKey: 'sk_test_bench_never_called',
  stripeWebhookSecret: process.env.WEBHOOK_SECRET!,
});

const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.get('/ready', async () => ({ ok: true }));
app.post('/webhooks', async (request, reply) => {
  try {
    await sync.processWebhook(request.body as Buffer, String(request.headers['stripe-signature']));
    return { received: true };
  } catch (err) {
    const forged = (err as { type?: string }).type === 'StripeSignatureVerificationError';
    return reply.status(forged ? 400 : 500).send({ error: (err as Error).message });
  }
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
