interface Pending<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for PostgreSQL: calls that arrive while a batch is being written wait, and go
 * together in the next one, as one statement (one round trip, one commit, one flush of the
 * WAL) however many runs it holds. A call in a quiet moment goes at once, so batching adds no
 * wait when there is nothing to batch with; under load a batch holds what arrived during the
 * previous one's round trip.
 *
 * `write` answers one output per item, in the items' order. When a batch fails, each of its
 * items is written again on its own, so a bad item fails alone and the others are not held
 * hostage; a write must therefore be safe to repeat for the items that did not cause the failure
 * (a batch is one statement: when it fails, none of it was written).
 */
export class Batcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private writing = false;

  /** Items with the same `keyOf` never share a batch: the later waits for the next one. */
  constructor(
    private readonly write: (items: readonly I[]) => Promise<O[]>,
    private readonly options: { maxSize?: number; keyOf?: (item: I) => string } = {},
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) await this.flush(this.take());
    this.writing = false;
  }

  private take(): Pending<I, O>[] {
    const { maxSize = 100, keyOf } = this.options;
    if (!keyOf) return this.queue.splice(0, maxSize);
    const keys = new Set<string>();
    const batch: Pending<I, O>[] = [];
    const later: Pending<I, O>[] = [];
    for (const p of this.queue) {
      const key = keyOf(p.item);
      if (batch.length < maxSize && !keys.has(key)) (keys.add(key), batch.push(p));
      else later.push(p);
    }
    this.queue = later;
    return batch;
  }

  private async flush(batch: Pending<I, O>[]): Promise<void> {
    try {
      const out = await this.write(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(out[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      await Promise.all(batch.map((p) => this.write([p.item]).then(([out]) => p.resolve(out!), p.reject)));
    }
  }
}
