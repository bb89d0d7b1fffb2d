// Memory of a server as the issue states it: the RSS of the server process plus the PSS (proportional set size:
// shared pages divided among their sharers) of the database server processes it runs. Those are found as the
// server's descendants and, in case the postmaster is not its child (orphaned, or started by another user), through
// `postmaster.pid` files under its data dir and their descendants. With PGlite there are none.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const kb = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

export function rssMb(pid: number): number {
  return kb(read(`/proc/${pid}/status`), 'VmRSS') / 1024;
}

/** Peak RSS over the process's life (VmHWM). */
export function peakRssMb(pid: number): number {
  return kb(read(`/proc/${pid}/status`), 'VmHWM') / 1024;
}

function pssMb(pid: number): number {
  return kb(read(`/proc/${pid}/smaps_rollup`), 'Pss') / 1024;
}

function parents(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ")".
    const stat = read(`/proc/${entry}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!byParent.has(ppid)) byParent.set(ppid, []);
    byParent.get(ppid)!.push(Number(entry));
  }
  return byParent;
}

function postmasterPids(dataDir: string, depth = 3): number[] {
  if (depth < 0 || !existsSync(dataDir)) return [];
  const found: number[] = [];
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(read(pidFile).split('\n')[0]);
    if (pid > 0 && existsSync(`/proc/${pid}`)) found.push(pid);
  }
  try {
    for (const e of readdirSync(dataDir, { withFileTypes: true })) {
      if (e.isDirectory()) found.push(...postmasterPids(path.join(dataDir, e.name), depth - 1));
    }
  } catch {
    // unreadable (e.g. owned by the database user): the process tree still finds its server
  }
  return found;
}

export interface Footprint {
  /** RSS of the server process. */
  serverMb: number;
  /** PSS summed over its database processes (0 with none). */
  databaseMb: number;
  databaseProcesses: number;
  totalMb: number;
}

/** The server's descendants and its database server processes (not the server itself). */
export function relatedPids(pid: number, dataDir?: string): Set<number> {
  const tree = parents();
  const related = new Set<number>();
  const addTree = (p: number) => {
    for (const c of tree.get(p) ?? []) {
      if (!related.has(c)) {
        related.add(c);
        addTree(c);
      }
    }
  };
  addTree(pid);
  for (const pm of dataDir ? postmasterPids(dataDir) : []) {
    related.add(pm);
    addTree(pm);
  }
  related.delete(pid);
  return related;
}

export function footprint(pid: number, dataDir?: string): Footprint {
  const related = relatedPids(pid, dataDir);
  const serverMb = rssMb(pid);
  let databaseMb = 0;
  for (const p of related) databaseMb += pssMb(p);
  return { serverMb, databaseMb, databaseProcesses: related.size, totalMb: serverMb + databaseMb };
}

/** Samples the footprint every `everyMs` until stopped; keeps the largest total. */
export function sampleFootprint(pid: number, dataDir?: string, everyMs = 500) {
  let peak: Footprint = footprint(pid, dataDir);
  const timer = setInterval(() => {
    const f = footprint(pid, dataDir);
    if (f.totalMb > peak.totalMb) peak = f;
  }, everyMs);
  return {
    stop(): Footprint {
      clearInterval(timer);
      const f = footprint(pid, dataDir);
      if (f.totalMb > peak.totalMb) peak = f;
      return peak;
    },
  };
}

/** CPU seconds (user + system) used so far by a process. Clock ticks are 100 per second on Linux. */
export function cpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/** CPU used by the server and its database processes, and by this process (the load generator), over a phase. */
export function cpuMeter(pid: number, dataDir?: string) {
  const related = [...relatedPids(pid, dataDir)];
  const server0 = cpuSeconds(pid);
  const db0 = related.reduce((a, p) => a + cpuSeconds(p), 0);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop(): CpuShare {
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(client0);
      return {
        server: (cpuSeconds(pid) - server0) / seconds,
        database: (related.reduce((a, p) => a + cpuSeconds(p), 0) - db0) / seconds,
        client: (c.user + c.system) / 1e6 / seconds,
      };
    },
  };
}

/** Cores busy on average over a phase (1.0 = one core all the time). */
export interface CpuShare {
  server: number;
  /** Its own database processes (embedded server), not the shared local PostgreSQL. */
  database: number;
  client: number;
}
