import type { RunStatus } from '@runlet/protocol';
import type { RunWithAttempts, StoredLogLine } from '../store/store.js';

/** What readers of a run (`/result` long-polls, `/logs` streams) are told as it happens. */
export type RunEvent =
  /**
   * New lines up to `upToSeq`. `lines` holds them when they were written on this node; from
   * another node it is empty and readers fetch the lines from the store.
   */
  | { type: 'logs'; lines: readonly StoredLogLine[]; upToSeq: number }
  /**
   * `ended` holds the ended run when it ended on this node and all its attempts are known
   * without a read (as with `lines` of a `logs` event, it never travels to other nodes).
   */
  | { type: 'status'; status: RunStatus; ended?: RunWithAttempts }
  /** A provisioned id lapsed unused: there is no run any more. */
  | { type: 'gone' }
  /**
   * The run was cancelled while running: the node running it stops its worker, finishes its
   * log, then tells readers the run is over (a `cancelled` status).
   */
  | { type: 'cancel' };

export type RunListener = (event: RunEvent) => void;

/**
 * What every node is told by id alone: `queued`, a service has a queued run (dispatchers claim);
 * `envChanged`, an account's environment variables changed (its workers are replaced);
 * `keyRevoked`, a key was revoked (it is dropped from the caches of keys).
 */
export const NODE_NOTICES = ['queued', 'envChanged', 'keyRevoked'] as const;
export type NodeNotice = (typeof NODE_NOTICES)[number];
/** Told that one of an account's runs changed status; it reads the run itself, if it cares. */
export type RunChangedListener = (accountId: string, runId: string) => void;

/**
 * Fan-out of run events to readers, and of "a run was queued" to dispatchers. In-process on
 * one node; the PostgreSQL bus carries both between nodes, so readers never know which node
 * did the work.
 */
export interface EventBus {
  publish(runId: string, event: RunEvent): void;
  /** Answers the function that unsubscribes. */
  subscribe(runId: string, listener: RunListener): () => void;
  /** How many listeners this node has on the run (its readers, and the engine while it runs it). */
  listenersOf(runId: string): number;
  /** Tells every node (this one too) a notice about `id`: a service, an account or a key (see NodeNotice). */
  announce(notice: NodeNotice, id: string): void;
  on(notice: NodeNotice, listener: (id: string) => void): void;
  /**
   * Tells every node that a run of the account changed status (queued, started, ended). Only ids
   * travel: a node whose readers follow the account reads the run once for all of them.
   */
  announceRunChanged(accountId: string, runId: string): void;
  /** Answers the function that unsubscribes. */
  onRunChanged(listener: RunChangedListener): () => void;
  close(): Promise<void>;
}

export class LocalEventBus implements EventBus {
  private readonly listeners = new Map<string, Set<RunListener>>();
  private readonly noticeListeners = new Map<NodeNotice, ((id: string) => void)[]>(NODE_NOTICES.map((n) => [n, []]));
  private readonly runChangedListeners = new Set<RunChangedListener>();

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

  listenersOf(runId: string): number {
    return this.listeners.get(runId)?.size ?? 0;
  }

  announce(notice: NodeNotice, id: string): void {
    for (const listener of this.noticeListeners.get(notice)!) listener(id);
  }

  on(notice: NodeNotice, listener: (id: string) => void): void {
    this.noticeListeners.get(notice)!.push(listener);
  }

  announceRunChanged(accountId: string, runId: string): void {
    for (const listener of [...this.runChangedListeners]) {
      try {
        listener(accountId, runId);
      } catch {
        // As for readers of a run: one listener's failure must not stop the others.
      }
    }
  }

  onRunChanged(listener: RunChangedListener): () => void {
    this.runChangedListeners.add(listener);
    return () => void this.runChangedListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.runChangedListeners.clear();
  }

  /** Listeners of runs and of run changes: what every ended stream must have given back. */
  get subscriberCount(): number {
    let n = this.runChangedListeners.size;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
