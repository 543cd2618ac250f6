import { Worker } from 'node:worker_threads';
import { unavailable } from '../../domain/errors.js';
import type { LineageRow } from '../../domain/lineage.js';
import type { LineageStepRow } from '../../domain/lineage-stream.js';
import type { BuiltLineage, BuiltLineageQuery, LineageQuery, StoreLoading } from '../../domain/ports/provenance-store.js';
import { unpackBuiltLineage, type PackedBuiltLineage } from './built-lineage.js';
import { unpackLineageRowsInSteps, unpackLineageStepRows, type PackedLineageRows, type PackedLineageStepRows } from './packed-lineage-rows.js';

export interface GraphWorkerData {
  path: string;
  busyTimeoutMs: number;
  /** After a failed load, the next try. */
  retryLoadMs: number;
  /** While the graph loads, the most jobs a lineage walks from the table before it waits for the graph instead. */
  tableWalkJobs: number;
}

export type ToGraphWorker =
  | { type: 'load' }
  | { type: 'lineage'; id: number; query: LineageQuery }
  | { type: 'builtLineage'; id: number; query: BuiltLineageQuery }
  | { type: 'lineageStep'; id: number; jobIds: readonly string[] }
  | { type: 'nextPart'; id: number };

/**
 * Rows with whole records per message of an answer: the receiving thread
 * takes a message in one block (structured clone), a few milliseconds for
 * this many records; the next part is asked for after a turn of its event
 * loop (docs/decisions.md, "Large lineage answers").
 */
export const RECORD_ROWS_PER_PART = 1000;

export type FromGraphWorker =
  | { type: 'progress'; read: number; total: number }
  | { type: 'loaded' }
  | { type: 'loadFailed'; message: string }
  /** Rows with records, RECORD_ROWS_PER_PART at most; more: the worker holds the rest, sent a part per nextPart. */
  | { type: 'answer'; id: number; rows: LineageRow[]; more: boolean }
  | { type: 'packedAnswer'; id: number; packed: PackedLineageRows }
  | { type: 'packedStepAnswer'; id: number; packed: PackedLineageStepRows }
  /** packed undefined: the graph is not loaded yet (ProvenanceStore.builtLineage). */
  | { type: 'builtAnswer'; id: number; packed: PackedBuiltLineage | undefined }
  | { type: 'failed'; id: number; unavailable: boolean; message: string };

const WORKER_URL = new URL('./lineage-graph-worker.js', import.meta.url);
const RETRY_LOAD_MS = 1000;
/** About a second of walking the table on a busy machine: larger lineages are answered from the graph once it is loaded. */
export const TABLE_WALK_JOBS_WHILE_LOADING = 10_000;
/**
 * The graph thread's young generation (V8's default keeps 32 MiB of
 * semi-spaces committed): at 321,000 jobs the thread's heap after 23 whole
 * ancestries was 53 MiB instead of 126, with no more CPU; at 1,000,000 the
 * difference was within one run's noise (docs/decisions.md, "Server RSS at
 * 1,000,000 jobs"). The old generation is left unbounded: a whole ancestry
 * with records must still fit.
 */
const GRAPH_THREAD_YOUNG_GENERATION_MB = 16;

type Answer = LineageRow[] | LineageStepRow[] | BuiltLineage | undefined;

interface Pending {
  resolve(answer: Answer): void;
  reject(error: unknown): void;
  /** The parts of an answer with records received so far. */
  received?: LineageRow[];
}

/**
 * The lineage graph of a database file, on a thread of its own
 * (lineage-graph-worker.ts): its load, walks and row reads never hold this
 * thread's event loop. The thread is started at once and loads in the
 * background; lineage() is answered meanwhile (from the table), and
 * loading() says how far the load is. A thread that dies is started again.
 */
export class LineageGraphThread {
  private worker!: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private progress = 'starting';
  private loaded = false;
  private markLoaded!: () => void;
  private readonly whenLoaded = new Promise<void>((resolve) => (this.markLoaded = resolve));
  private closed = false;

  /** holdLoad: the load starts once it settles (what tests hold the load open with). */
  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
    private readonly holdLoad: Promise<void> = Promise.resolve(),
    private readonly tableWalkJobs = TABLE_WALK_JOBS_WHILE_LOADING,
  ) {
    this.start();
  }

  lineage(query: LineageQuery): Promise<LineageRow[]> {
    return this.ask((id) => ({ type: 'lineage', id, query })) as Promise<LineageRow[]>;
  }

  lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    return this.ask((id) => ({ type: 'lineageStep', id, jobIds })) as Promise<LineageStepRow[]>;
  }

  /** ProvenanceStore.builtLineage: while the graph loads, undefined for a lineage the table answers, later for a larger one (lineage-graph-worker.ts, answerBuilt). */
  builtLineage(query: BuiltLineageQuery): Promise<BuiltLineage | undefined> {
    return this.ask((id) => ({ type: 'builtLineage', id, query })) as Promise<BuiltLineage | undefined>;
  }

  private ask(message: (id: number) => ToGraphWorker): Promise<Answer> {
    if (this.closed) return Promise.reject(unavailable('the SQLite database is closed'));
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Only a query waiting for its answer keeps the process alive.
      this.worker.ref();
      this.post(message(id));
    });
  }

  /** While the graph loads: how far it is, and a promise settled once it is loaded. */
  loading(): StoreLoading | undefined {
    return this.loaded ? undefined : { name: 'lineageGraph', progress: this.progress, done: this.whenLoaded };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failPending(unavailable('the SQLite database is closed'));
    await this.worker.terminate();
  }

  private start(): void {
    const data: GraphWorkerData = { path: this.path, busyTimeoutMs: this.busyTimeoutMs, retryLoadMs: RETRY_LOAD_MS, tableWalkJobs: this.tableWalkJobs };
    const worker = new Worker(WORKER_URL, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: GRAPH_THREAD_YOUNG_GENERATION_MB } });
    this.worker = worker;
    worker.unref();
    worker.on('message', (message: FromGraphWorker) => this.receive(message));
    worker.on('error', (error) => (this.progress = `thread failed (${error.message}); starting it again`));
    worker.on('exit', () => {
      if (this.closed) return;
      this.failPending(unavailable('the lineage graph thread stopped; it is started again'));
      this.start();
    });
    if (this.loaded) this.post({ type: 'load' });
    else {
      const load = () => this.post({ type: 'load' });
      void this.holdLoad.then(load, load);
    }
  }

  private receive(message: FromGraphWorker): void {
    switch (message.type) {
      case 'progress':
        this.progress = `loading: ${message.read.toLocaleString('en-US')} of ${message.total.toLocaleString('en-US')} jobs`;
        return;
      case 'loadFailed':
        this.progress = `load failed (${message.message}); trying again`;
        return;
      case 'loaded':
        this.loaded = true;
        this.markLoaded();
        return;
      default: {
        const waiting = this.pending.get(message.id);
        if (!waiting) return;
        if (message.type === 'answer' && message.more) {
          const received = (waiting.received ??= []);
          for (const row of message.rows) received.push(row);
          const id = message.id;
          // The calls beside it are served before the next part is taken in.
          setImmediate(() => this.post({ type: 'nextPart', id }));
          return;
        }
        this.pending.delete(message.id);
        if (this.pending.size === 0) this.worker.unref();
        if (message.type === 'answer') {
          if (!waiting.received) return waiting.resolve(message.rows);
          for (const row of message.rows) waiting.received.push(row);
          waiting.resolve(waiting.received);
        } else if (message.type === 'packedAnswer') unpackInTurns(unpackLineageRowsInSteps(message.packed), waiting);
        else if (message.type === 'packedStepAnswer') unpackStep(message.packed, waiting);
        else if (message.type === 'builtAnswer') {
          try {
            waiting.resolve(message.packed && unpackBuiltLineage(message.packed));
          } catch (error) {
            waiting.reject(error);
          }
        }
        else waiting.reject(message.unavailable ? unavailable(message.message) : new Error(message.message));
      }
    }
  }

  private post(message: ToGraphWorker): void {
    if (!this.closed) this.worker.postMessage(message);
  }

  private failPending(error: unknown): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}

function unpackStep(packed: PackedLineageStepRows, waiting: Pending): void {
  try {
    waiting.resolve(unpackLineageStepRows(packed));
  } catch (error) {
    waiting.reject(error);
  }
}

/**
 * Unpacks a large answer a step at a time, with a turn of the event loop
 * between steps, so that the calls beside it are served meanwhile
 * (docs/decisions.md, "Large lineage answers").
 */
function unpackInTurns(steps: Generator<void, Answer>, waiting: Pending): void {
  const step = () => {
    try {
      const next = steps.next();
      if (next.done) waiting.resolve(next.value);
      else setImmediate(step);
    } catch (error) {
      waiting.reject(error);
    }
  };
  step();
}
