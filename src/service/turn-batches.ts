interface Waiting<Item, Outcome> {
  key: string;
  item: Item;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/**
 * The calls of one turn of the event loop, made right after it as one call
 * of write (group-commit.ts for store writes, batched-enqueue.ts for the
 * queue). Each caller gets its own outcome; a write that throws fails every
 * item of its batch.
 */
export class TurnBatches<Item, Outcome> {
  private waiting: Array<Waiting<Item, Outcome>> = [];
  private scheduled = false;

  /** maxBatch: the most items one write takes; the rest go in further writes, started at once. */
  constructor(
    private readonly write: (items: Item[]) => Promise<Outcome[]>,
    private readonly maxBatch: number,
  ) {}

  /** key: items under one key go in separate batches, in the order they were added. */
  add(key: string, item: Item): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // After the I/O callbacks of this turn, so that calls that arrived together are batched together.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.waiting.length > 0) void this.run(this.take());
  }

  private async run(batch: Array<Waiting<Item, Outcome>>): Promise<void> {
    try {
      const outcomes = await this.write(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(outcomes[i]!));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }

  /** Up to maxBatch waiting items of distinct keys, in arrival order; a second item of a key waits for the next batch. */
  private take(): Array<Waiting<Item, Outcome>> {
    const batch: Array<Waiting<Item, Outcome>> = [];
    const rest: Array<Waiting<Item, Outcome>> = [];
    const keys = new Set<string>();
    for (const w of this.waiting) {
      if (batch.length < this.maxBatch && !keys.has(w.key)) {
        keys.add(w.key);
        batch.push(w);
      } else rest.push(w);
    }
    this.waiting = rest;
    return batch;
  }
}
