import type { RunStatus } from '@runlet/protocol';
import type { StoredLogLine } from '../store/store.js';

/** What readers of a run (`/result` long-polls, `/logs` streams) are told as it happens. */
export type RunEvent =
  | { type: 'logs'; lines: readonly StoredLogLine[] }
  | { type: 'status'; status: RunStatus }
  /** A provisioned id lapsed unused: there is no run any more. */
  | { type: 'gone' };

export type RunListener = (event: RunEvent) => void;

/**
 * Fan-out of run events to the readers on this node. The PostgreSQL store adds a bridge that
 * carries events between nodes; readers never know which node did the work.
 */
export interface EventBus {
  publish(runId: string, event: RunEvent): void;
  /** Answers the function that unsubscribes. */
  subscribe(runId: string, listener: RunListener): () => void;
}

export class LocalEventBus implements EventBus {
  private readonly listeners = new Map<string, Set<RunListener>>();

  publish(runId: string, event: RunEvent): void {
    const set = this.listeners.get(runId);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch {
        // A reader's failure (say, a closed socket) must not stop the others.
      }
    }
  }

  subscribe(runId: string, listener: RunListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) this.listeners.set(runId, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.listeners.delete(runId);
    };
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
