// The handler most teams write: Express, the raw body verified by `stripe.webhooks.constructEvent`, one INSERT
// per request into PostgreSQL (a pg Pool with its default 10 connections), then 200.
//   PORT=… WEBHOOK_SECRET=… DATABASE_URL=… node --import tsx bench/compare/servers/naive.ts
import express from 'express';
import pg from 'pg';
import Stripe from 'stripe';

const stripe = new Stripe('sk_test_unused');
const secret = process.env.WEBHOOK_SECRET!;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
await pool.query(
  'CREATE TABLE IF NOT EXISTS stripe_events (id text PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())',
);

const app = express();
app.get('/ready', (_req, res) => {
  res.json({ ok: true });
});
app.post('/webhook', express.raw({ type: 'application/json', limit: '1mb' }), async (req, res) => {
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(req.body as Buffer, String(req.headers['stripe-signature']), secret);
  } catch {
    res.status(400).send('bad signature');
    return;
  }
  try {
    await pool.query('INSERT INTO stripe_events (id, type, payload) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [
      event.id,
      event.type,
      event,
    ]);
    res.json({ received: true });
  } catch {
    res.status(500).send('database error');
  }
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
