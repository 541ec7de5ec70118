import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { RunletError } from '../errors.js';
import type { ServiceProblem } from '@runlet/protocol';
import { discoverServices, type ServiceSpec } from './service-spec.js';
import { WorkerPool, type PoolOptions } from './worker-pool.js';

export interface ServiceEntry {
  spec: ServiceSpec;
  pool: WorkerPool;
}

/**
 * The services of a folder and one warm pool each. `reload()` picks up added, changed and
 * removed services: a changed service gets a new pool and the old one drains (calls in flight
 * finish on the old code), so no call ever sees a half-reloaded service.
 */
export class ServiceRegistry {
  private readonly entries = new Map<string, ServiceEntry>();
  private problems = new Map<string, ServiceProblem>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly root: string,
    private readonly poolOptions: PoolOptions,
    private readonly onChange: (change: { added: string[]; changed: string[]; removed: string[]; problems: ServiceProblem[] }) => void = () => {},
  ) {}

  get(serviceId: string): ServiceEntry {
    const entry = this.entries.get(serviceId);
    if (entry) return entry;
    const problem = this.problems.get(serviceId);
    if (problem) throw new RunletError('WORKER_START_FAILED', `service "${serviceId}" cannot be loaded: ${problem.message}`);
    throw new RunletError('SERVICE_NOT_FOUND', `No service "${serviceId}".`);
  }

  has(serviceId: string): boolean {
    return this.entries.has(serviceId);
  }

  list(): ServiceEntry[] {
    return [...this.entries.values()];
  }

  /** The services of the folder that cannot be loaded (a bad manifest, an invalid name), with why. */
  listProblems(): ServiceProblem[] {
    return [...this.problems.values()];
  }

  reload(): { added: string[]; changed: string[]; removed: string[] } {
    const { services, problems } = discoverServices(this.root);
    const added: string[] = [];
    const changed: string[] = [];
    const seen = new Set<string>();
    for (const spec of services) {
      seen.add(spec.id);
      const current = this.entries.get(spec.id);
      if (current && current.spec.fingerprint === spec.fingerprint) continue;
      if (current) current.pool.drain();
      this.entries.set(spec.id, { spec, pool: new WorkerPool(spec, this.poolOptions) });
      (current ? changed : added).push(spec.id);
    }
    const removed = [...this.entries.keys()].filter((id) => !seen.has(id));
    for (const id of removed) {
      this.entries.get(id)!.pool.drain();
      this.entries.delete(id);
    }
    this.problems = new Map(problems.map((p) => [p.id, p]));
    const change = { added, changed, removed, problems };
    if (added.length || changed.length || removed.length || problems.length) this.onChange(change);
    return change;
  }

  /**
   * Reloads whenever something under the folder changes (debounced: an editor saves in bursts).
   * A folder that does not exist yet is made, so the first service written into it is picked up.
   */
  watch(): void {
    if (this.watcher) return;
    mkdirSync(this.root, { recursive: true });
    this.watcher = watch(this.root, { recursive: true }, () => {
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => {
        try {
          this.reload();
        } catch {
          // A folder caught mid-write is read again on the next change.
        }
      }, 100);
    });
  }

  /** An account's variables changed: every service's workers of that account are replaced. */
  recycleAccount(accountId: string): void {
    for (const entry of this.entries.values()) entry.pool.recycle(accountId);
  }

  async close(graceMs?: number): Promise<void> {
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
    await Promise.all(this.list().map((e) => e.pool.close(graceMs)));
  }
}
