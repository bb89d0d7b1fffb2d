// The ceiling: what one Node process on this machine can do for a Stripe webhook without storing it. Fastify
// keeps the raw body, the official SDK verifies the signature on it and parses the event, and the answer is 200.
//   PORT=… WEBHOOK_SECRET=… node --import tsx bench/compare/servers/ceiling.ts
import Fastify from 'fastify';
import Stripe from 'stripe';

const stripe = new Stripe('sk_test_unused');
const secret = process.env.WEBHOOK_SECRET!;
const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

app.get('/ready', async () => ({ ok: true }));
app.post('/webhook', async (request, reply) => {
  try {
    const event = stripe.webhooks.constructEvent(request.body as Buffer, String(request.headers['stripe-signature']), secret);
    return { received: true, id: event.id };
  } catch {
    return reply.status(400).send({ error: 'bad signature' });
  }
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
