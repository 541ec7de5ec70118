import type { EventBus } from '../logs/event-bus.js';
import type { RunRow, Store } from '../store/store.js';

export type RunFeedListener = (run: RunRow) => void;

/** How long a run's change waits for the next ones before it is read for followers. */
const FEED_GATHER_MS = 50;

/** One account's followers on this node, and the changed runs still to be read for them. */
interface Following {
  listeners: Set<RunFeedListener>;
  /** Runs whose change is not read yet; a run changed again meanwhile is read once, as it then is. */
  due: Set<string>;
  /** A read of `due` is waiting (FEED_GATHER_MS) or under way: changes meanwhile join it. */
  reading: boolean;
}

/**
 * The runs of an account as they change, for readers that follow them all (the dashboard's
 * runs table). The bus says only which run changed; this node reads it once for all of the
 * account's followers here, and not at all when nobody here follows the account. The bus is
 * listened to only while someone follows. An account's runs are read one at a time, in the
 * order they changed, so a follower never sees a run step back to an older state.
 */
export class RunFeed {
  private readonly accounts = new Map<string, Following>();
  private stopListening: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly onError: (err: unknown, runId: string) => void,
  ) {}

  /** Calls `listener` with each run of the account that changes from now on; answers the function that stops it. */
  follow(accountId: string, listener: RunFeedListener): () => void {
    let following = this.accounts.get(accountId);
    if (!following) this.accounts.set(accountId, (following = { listeners: new Set(), due: new Set(), reading: false }));
    following.listeners.add(listener);
    this.stopListening ??= this.bus.onRunChanged((account, runId) => this.changed(account, runId));
    return () => {
      following.listeners.delete(listener);
      if (following.listeners.size > 0 || this.accounts.get(accountId) !== following) return;
      this.accounts.delete(accountId);
      if (this.accounts.size === 0) {
        this.stopListening?.();
        this.stopListening = undefined;
      }
    };
  }

  /** How many follow runs on this node, all accounts together. */
  get followerCount(): number {
    let n = 0;
    for (const f of this.accounts.values()) n += f.listeners.size;
    return n;
  }

  private changed(accountId: string, runId: string): void {
    const following = this.accounts.get(accountId);
    if (!following) return;
    following.due.add(runId);
    if (following.reading) return;
    following.reading = true;
    // Read a moment later: a run's changes that come close together (a short run is recorded,
    // started and ended within milliseconds) then reach followers once, as the run then is.
    setTimeout(() => void this.readDue(accountId, following), FEED_GATHER_MS);
  }

  private async readDue(accountId: string, following: Following): Promise<void> {
    try {
      for (const runId of following.due) {
        following.due.delete(runId);
        if (following.listeners.size === 0) break;
        let run: RunRow | undefined;
        try {
          run = await this.store.getRun(runId);
        } catch (err) {
          this.onError(err, runId);
          continue;
        }
        // Deleted meanwhile (retention), or nobody left to tell.
        if (!run || run.accountId !== accountId) continue;
        for (const listener of [...following.listeners]) {
          try {
            listener(run);
          } catch {
            // One follower's failure (a closed socket) must not stop the others.
          }
        }
      }
    } finally {
      following.reading = false;
    }
  }
}
