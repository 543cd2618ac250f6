import { readFileSync, readdirSync } from 'node:fs';

/** Resident set size of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** How many file descriptors (sockets, files, pipes, timers' eventfds) a process holds open. */
export function openHandles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  // After the command name in parentheses, the fields start at the third (state); utime and stime are the 14th and 15th, in clock ticks (100 a second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system) this process has used since start, a process.cpuUsage() reading. */
export function ownCpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** CPU time as a share of one core over a wall-clock span, as printed beside figures ("85%" is 0.85 core-seconds per second). */
export function coreShare(cpu: number, wallSeconds: number): string {
  return `${Math.round((100 * cpu) / wallSeconds)}%`;
}
