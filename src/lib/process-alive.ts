// Whether a pid (not our child) still runs. A process that has exited but not yet been reaped by its parent
// (a zombie) answers kill(pid, 0) like a live one; on Linux its state in /proc says otherwise. A postmaster
// removes its postmaster.pid on the way out and stays a zombie until the process that spawned it reaps it, so
// a reader of that file must see such a pid as gone, never as "alive but not postgres" (a stale file to delete).
import { readFileSync } from 'node:fs';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true; // reaped between the signal and the read: gone
  }
  // "pid (comm) S …": comm may hold spaces and parentheses, so the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/**
 * When the process started (ms since the epoch), on Linux; undefined elsewhere or when it cannot be read. A pid
 * read from a file written before a reboot or a crash may since belong to any process: one that started after the
 * file was written is not the process that wrote it.
 */
export function processStartedAt(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22 (starttime, in clock ticks since boot) counted from the field after the command's closing ')'.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
    if (!Number.isFinite(ticks) || !boot) return undefined;
    // USER_HZ is 100 on every Linux that Node runs on (it is fixed in the kernel's ABI, unlike HZ).
    return Number(boot[1]) * 1000 + ticks * 10;
  } catch {
    return undefined;
  }
}
