import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { sdkHostCommand, WORKER_BASE_ENV } from './worker-process.js';
import type { WorkerRegistry } from './worker-registry.js';

/**
 * SDK hosts started ahead of need, for no service yet: Node, the TypeScript loader and the SDK
 * are loaded and waiting. A pool that needs a new TypeScript worker takes one and assigns it a
 * service (and its environment) on stdin, so a cold start costs only importing the service.
 * A spare starts with nothing of the runtime's environment, like every worker.
 */
export class HostSpares {
  private readonly spares: ChildProcess[] = [];
  private closed = false;

  constructor(
    private readonly count: number,
    private readonly registry?: WorkerRegistry,
  ) {}

  fill(): void {
    while (!this.closed && this.spares.length < this.count) this.spares.push(this.spawnSpare());
  }

  /** A spare host, or undefined when none is ready; the pool of spares refills behind it. */
  take(): ChildProcess | undefined {
    let spare: ChildProcess | undefined;
    while ((spare = this.spares.shift()) && (spare.exitCode !== null || spare.signalCode !== null));
    setImmediate(() => this.fill());
    return spare;
  }

  close(): void {
    this.closed = true;
    for (const spare of this.spares.splice(0)) spare.kill('SIGKILL');
  }

  private spawnSpare(): ChildProcess {
    const [command, ...args] = sdkHostCommand();
    const child = spawn(command!, args, { cwd: os.tmpdir(), env: { ...WORKER_BASE_ENV }, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    child.stdin?.on('error', () => {});
    const pid = child.pid;
    if (pid !== undefined) this.registry?.add(pid);
    child.once('exit', () => {
      if (pid !== undefined) this.registry?.remove(pid);
      const i = this.spares.indexOf(child);
      if (i !== -1) this.spares.splice(i, 1);
    });
    return child;
  }
}
