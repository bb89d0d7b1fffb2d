// Shared by the benchmark scripts: a real `sluice start` (compiled dist/) on PGlite or on its own PostgreSQL
// schema, a keep-alive HTTP client, Stripe signing, percentiles and peak memory. Loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import Stripe from 'stripe';

export type BenchDb = 'embedded' | 'postgres';

export const TOKEN = `bench_admin_${randomBytes(12).toString('hex')}`;
export const SECRET = 'whsec_bench_secret';
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const stripe = new Stripe('sk_test_unused');
export const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });

export function signStripe(payload: string): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
}

export function request(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function api(base: string, method: string, p: string, body?: unknown): Promise<any> {
  const res = await request(`${base}/api/v1${p}`, method, body === undefined ? undefined : JSON.stringify(body), {
    authorization: `Bearer ${TOKEN}`,
  });
  return JSON.parse(res.body);
}

export const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** A database for one benchmark run: an embedded data dir, plus a fresh schema on PostgreSQL. */
export async function benchStore(db: BenchDb): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SLUICE_DATA_DIR: dataDir,
    SLUICE_ADMIN_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
  };
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(sql);
    await c.end();
  };
  if (db === 'postgres') {
    await admin(`CREATE SCHEMA ${schema}`);
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    env.DATABASE_URL = u.toString();
  }
  return {
    env,
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
      if (db === 'postgres') await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

export interface BenchServer {
  base: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** `sluice start --port 0` from dist/, killed after `limitMs` whatever happens, so a run always ends. */
export async function startServer(env: Record<string, string>, args: string[] = [], limitMs = 300_000): Promise<BenchServer> {
  const proc = spawn(process.execPath, ['bin/sluice.js', 'start', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const guard = setTimeout(() => proc.kill('SIGKILL'), limitMs);
  const exited = new Promise((r) => proc.once('exit', r));
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"sluice started"/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`sluice exited with ${code}: ${out}`)));
  });
  return {
    base,
    proc,
    async stop() {
      clearTimeout(guard);
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function createBenchWorkspace(base: string): Promise<string> {
  const ws = (await api(base, 'POST', '/workspaces', { name: 'bench' })).id as string;
  await api(base, 'PUT', `/workspaces/${ws}/connections/stripe`, { webhookSecrets: [SECRET] });
  return ws;
}

/** Sends every body from `concurrency` keep-alive clients; returns each answer's latency and the non-200 count. */
export async function sendAll(
  bodies: string[],
  concurrency: number,
  send: (body: string) => Promise<number>,
): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t = performance.now();
        const status = await send(body).catch(() => 0);
        latencies.push(performance.now() - t);
        if (status !== 200) errors += 1;
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - start) / 1000 };
}

/** Posts signed Stripe events to the workspace's Stripe webhook URL. */
export function postAll(base: string, ws: string, bodies: string[], concurrency: number) {
  return sendAll(
    bodies,
    concurrency,
    async (body) => (await request(`${base}/webhooks/stripe/${ws}`, 'POST', body, { 'stripe-signature': signStripe(body) })).status,
  );
}
