import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { LineageRow } from '../../domain/lineage.js';
import type { BuiltLineageQuery, LineageQuery } from '../../domain/ports/provenance-store.js';
import { ProvenanceError } from '../../domain/errors.js';
import { LineageGraph } from './lineage-graph.js';
import { LineageRows, TableWalk, WalkPastLimit } from './lineage-rows.js';
import { movedBuffers } from './built-lineage.js';
import { packedBuffers, packLineageRows, packLineageStepRows } from './packed-lineage-rows.js';
import { unavailableOrAsIs } from './sqlite-errors.js';
import { RECORD_ROWS_PER_PART, type FromGraphWorker, type GraphWorkerData, type ToGraphWorker } from './lineage-graph-thread.js';

/**
 * The lineage graph's thread (lineage-graph-thread.ts starts it): loads the
 * graph from the database file in steps of a few milliseconds, on a read
 * transaction of its own, and answers lineage queries between the steps, by
 * the graph once it is loaded and from the table (TableWalk) until then.
 * Two read-only connections: the load's transaction holds one snapshot
 * while the answers read the latest.
 */
const { path, busyTimeoutMs, retryLoadMs, tableWalkJobs } = workerData as GraphWorkerData;
const port = parentPort!;
const post = (message: FromGraphWorker) => port.postMessage(message);
const db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
const graph = new LineageGraph(db);
const rows = new LineageRows(db);
const tableWalk = new TableWalk(db);
/** The rest of each answer with records that is sent in parts, by query id: where its next part starts. */
const heldAnswers = new Map<number, { rows: LineageRow[]; next: number }>();
/**
 * Queries whose walk from the table went past tableWalkJobs while the graph
 * loaded: answered from the graph once it is loaded. The table walk runs on
 * this thread, between the load's steps, so a whole ancestry of 714,556 jobs
 * from the table (87 to 136 s at 1,000,000 jobs) held the load, which takes
 * seconds, for as long (docs/decisions.md, "SQLite lineage graph").
 */
const waitingForGraph: Array<{ id: number; query: LineageQuery }> = [];
/** The builtLineage queries too large for the table while the graph loaded: built on the graph once it is loaded. */
const builtWaitingForGraph: Array<{ id: number; query: BuiltLineageQuery }> = [];

port.on('message', (message: ToGraphWorker) => {
  if (message.type === 'load') load();
  else if (message.type === 'nextPart') sendPart(message.id);
  else if (message.type === 'lineage') answer(message.id, message.query);
  else if (message.type === 'builtLineage') answerBuilt(message.id, message.query);
  else answerStep(message.id, message.jobIds);
});

/** A step of StreamLineage's walk: a thousand jobs at most, packed (each id once), whose buffers are moved. */
function answerStep(id: number, jobIds: readonly string[]): void {
  try {
    const found = db.transaction(() => {
      if (!graph.loaded) return tableWalk.step(jobIds);
      graph.refresh();
      return graph.step(jobIds);
    })();
    const packed = packLineageStepRows(found);
    port.postMessage({ type: 'packedStepAnswer', id, packed } satisfies FromGraphWorker, [packed.columns.buffer, packed.neighbours.buffer]);
  } catch (error) {
    queryFailed(id, error);
  }
}

/**
 * A lineage built on the graph, whose buffers are moved. While the graph
 * loads, one the table walks within tableWalkJobs is undefined (the caller
 * builds it from rows, lineage(), answered from the table); a larger one
 * waits for the graph like a lineage() past that bound, and is built on it
 * rather than sent as rows: of a whole ancestry at 1,000,000 jobs the
 * serving thread would make an object per row and collect them, beside
 * the calls it serves.
 */
function answerBuilt(id: number, query: BuiltLineageQuery): void {
  try {
    if (!graph.loaded) {
      if (walksFromTable(query)) return post({ type: 'builtAnswer', id, packed: undefined });
      builtWaitingForGraph.push({ id, query });
      return;
    }
    const packed = db.transaction(() => {
      graph.refresh();
      return graph.built(query);
    })();
    port.postMessage({ type: 'builtAnswer', id, packed } satisfies FromGraphWorker, movedBuffers(packed));
  } catch (error) {
    queryFailed(id, error);
  }
}

/** Whether each direction's walk from the table, as lineage() would read it for the query, stays within tableWalkJobs. */
function walksFromTable(query: BuiltLineageQuery): boolean {
  const walker = tableWalk.upTo(tableWalkJobs);
  try {
    db.transaction(() => {
      for (const direction of query.directions) walker.walk(query.rootId, direction, query.maxDepth + 1);
    })();
    return true;
  } catch (error) {
    if (error instanceof WalkPastLimit) return false;
    throw error;
  }
}

/** The next part of a held answer; the last one lets it go. */
function sendPart(id: number): void {
  const held = heldAnswers.get(id);
  if (!held) return;
  const end = held.next + RECORD_ROWS_PER_PART;
  const more = end < held.rows.length;
  post({ type: 'answer', id, rows: held.rows.slice(held.next, end), more });
  if (more) held.next = end;
  else heldAnswers.delete(id);
}

/** tableWalkLimit: past it, a walk from the table (the graph still loading) waits for the graph instead. */
function answer(id: number, query: LineageQuery, tableWalkLimit = tableWalkJobs): void {
  try {
    const found = db.transaction(() => {
      if (!graph.loaded) return rows.read(tableWalk.upTo(tableWalkLimit), query);
      graph.refresh();
      return rows.read(graph, query);
    })();
    if (query.projection === 'FULL') {
      heldAnswers.set(id, { rows: found, next: 0 });
      sendPart(id);
    } else {
      const packed = packLineageRows(found);
      port.postMessage({ type: 'packedAnswer', id, packed } satisfies FromGraphWorker, packedBuffers(packed));
    }
  } catch (error) {
    if (error instanceof WalkPastLimit) waitingForGraph.push({ id, query });
    else queryFailed(id, error);
  }
}

/**
 * The queries that waited for the graph: from it once it is loaded, else
 * (its load failed) from the table, whatever their size; a builtLineage
 * then is undefined, and the caller's lineage() waits for the next load.
 */
function answerWaiting(): void {
  for (const { id, query } of waitingForGraph.splice(0)) answer(id, query, Infinity);
  for (const { id, query } of builtWaitingForGraph.splice(0)) {
    if (graph.loaded) answerBuilt(id, query);
    else post({ type: 'builtAnswer', id, packed: undefined });
  }
}

function queryFailed(id: number, error: unknown): void {
  const known = unavailableOrAsIs(error);
  const unavailable = known instanceof ProvenanceError && known.code === 'UNAVAILABLE';
  post({ type: 'failed', id, unavailable, message: known instanceof Error ? known.message : String(known) });
}

/** One step now and one per turn of the event loop after, so that queries are answered between steps. */
function load(): void {
  let loader: Database.Database | undefined;
  let steps: Generator<number, void, void>;
  let total: number;
  try {
    loader = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    loader.exec('BEGIN');
    total = loader.prepare<[], number>('SELECT count(*) FROM jobs').pluck().get()!;
    steps = graph.load(loader);
  } catch (error) {
    failed(loader, error);
    return;
  }
  const step = () => {
    try {
      const next = steps.next();
      if (!next.done) {
        post({ type: 'progress', read: next.value, total });
        setImmediate(step);
        return;
      }
      loader!.close();
      post({ type: 'loaded' });
      answerWaiting();
    } catch (error) {
      failed(loader, error);
    }
  };
  step();
}

function failed(loader: Database.Database | undefined, error: unknown): void {
  loader?.close();
  post({ type: 'loadFailed', message: error instanceof Error ? error.message : String(error) });
  answerWaiting();
  setTimeout(load, retryLoadMs);
}
