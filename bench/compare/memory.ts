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

export function footprint(pid: number, dataDir?: string): Footprint {
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
