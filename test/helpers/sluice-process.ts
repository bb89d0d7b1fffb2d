// A real `sluice` process, for tests that kill, restart and signal it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI from the TypeScript sources, for `node --import tsx`. */
export const SLUICE_ENTRY = fileURLToPath(new URL('./sluice-cli.ts', import.meta.url));
const ENTRY = SLUICE_ENTRY;

export interface SluiceProcess {
  proc: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runSluice(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running command (`sluice listen`): its output so far, and a way to stop it. */
export function spawnSluice(args: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Starts `sluice start --port 0` and resolves once it listens. */
export function startSluiceProcess(env: Record<string, string>, extraArgs: string[] = []): Promise<SluiceProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'start', '--port', '0', ...extraArgs], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    // A first start on the embedded database runs initdb, whose final sync waits for the disk: on a busy
    // shared machine that alone has taken 15 s.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`sluice did not start within 90 s:\n${out}`));
    }, 90_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out
        .split('\n')
        .slice(0, -1)
        .find((l) => l.includes('"msg":"sluice started"'));
      if (line) {
        clearTimeout(timer);
        // A worker-only instance serves no HTTP and has no url.
        resolve({ proc, url: (JSON.parse(line) as { url?: string }).url ?? '', output: () => out, exited });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`sluice exited with ${code} before it started:\n${out}`));
    });
  });
}

/** The management API of a running process with an admin token: `api(url, method, '/workspaces', body)`. */
export function processApi(token: string) {
  return async (url: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${url}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}

/** Every stored event of a workspace, paged through the events API: provider event id → status. */
export async function listEventStatuses(api: ReturnType<typeof processApi>, url: string, ws: string): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  let cursor: string | null = null;
  do {
    const page: any = (await api(url, 'GET', `/workspaces/${ws}/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`)).body;
    for (const e of page.data) statuses.set(e.providerEventId, e.status);
    cursor = page.nextCursor;
  } while (cursor);
  return statuses;
}
