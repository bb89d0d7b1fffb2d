// Every process and database the harness makes is registered here, so that whatever happens (an error, Ctrl-C,
// the overall time bound) `cleanup()` stops the children and drops the databases. Each child gets its own process
// group, so a server's own children (an embedded PostgreSQL) are killed with it if it does not stop them.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The last few KB of its stdout and stderr, for error messages. */
  tail(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const children = new Set<Child>();
const finalizers: (() => Promise<void> | void)[] = [];

export function onCleanup(fn: () => Promise<void> | void) {
  finalizers.push(fn);
}

export function removeDirOnCleanup(dir: string) {
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
}

/**
 * The node flags `npm start` runs Sluice with (package.json's start script: `node <flags> bin/sluice.js start`), so a
 * benchmark runs it as a user does on any Node version; a flag that BENCH_NODE_ARGS or PROF_NODE_ARGS also names
 * is left to them.
 */
export function npmStartNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  const flags = words.slice(words.indexOf('node') + 1, words.indexOf('bin/sluice.js')).filter((w) => w.startsWith('--'));
  const chosen = `${process.env.BENCH_NODE_ARGS ?? ''} ${process.env.PROF_NODE_ARGS ?? ''}`;
  return flags.filter((f) => !chosen.includes(f.split('=')[0]!));
}

export function startChild(name: string, args: string[], env: Record<string, string | undefined>): Child {
  const proc = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), ...args], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  // BENCH_CHILD_LOG=<file>: every child's whole output, each line prefixed with its name (for a run to explain).
  const logFile = process.env.BENCH_CHILD_LOG;
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8_000);
    if (logFile) appendFileSync(logFile, d.toString().replace(/^(?=.)/gm, `${name} `));
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = {
    name,
    proc,
    tail: () => out,
    exited,
    async stop() {
      children.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      // Whatever the server left behind in its group (or all of it, if it did not stop) goes now.
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        // the group is already gone
      }
      if (!stopped) await exited;
    },
  };
  children.add(child);
  return child;
}

let cleaning: Promise<void> | null = null;
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => c.stop().catch(() => undefined)));
    for (const fn of finalizers.reverse()) await Promise.resolve(fn()).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
  })();
  return cleaning;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Polls `url` until it answers 200; returns the milliseconds since `since`. Fails if the child exits first. */
export async function waitReady(child: Child, url: string, since: number, limitMs = 60_000): Promise<number> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (performance.now() - since < limitMs) {
    if (exited) throw new Error(`${child.name} exited before it was ready:\n${child.tail()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return performance.now() - since;
    await sleep(20);
  }
  throw new Error(`${child.name} was not ready within ${limitMs / 1000} s:\n${child.tail()}`);
}
