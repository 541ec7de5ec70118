import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A file per live worker process (`<dir>/<pid>`, holding the process's start time), so that a
 * runtime killed with SIGKILL leaves a list of what it started. SDK workers exit by themselves
 * when the runtime goes (their stdin closes), but a program in another language may not:
 * the next start of the runtime on the same data folder stops those leftovers.
 */
export class WorkerRegistry {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  add(pid: number): void {
    const started = startTimeOf(pid);
    if (started !== undefined) writeFileSync(path.join(this.dir, String(pid)), started);
  }

  remove(pid: number): void {
    rmSync(path.join(this.dir, String(pid)), { force: true });
  }

  /** Kills the workers a previous runtime left running; answers how many there were. */
  reapLeftovers(): number {
    let reaped = 0;
    for (const name of readdirSync(this.dir)) {
      const pid = Number(name);
      const file = path.join(this.dir, name);
      // The start time tells our worker from an unrelated process that reused its pid.
      if (Number.isInteger(pid) && startTimeOf(pid) === readFileSync(file, 'utf8')) {
        try {
          process.kill(pid, 'SIGKILL');
          reaped++;
        } catch {
          // Gone in the meantime.
        }
      }
      rmSync(file, { force: true });
    }
    return reaped;
  }
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
