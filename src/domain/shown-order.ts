import type { ReadableBy } from './access.js';
import { compareCodeUnits } from './hashing.js';
import type { Principal } from './principal.js';

/**
 * The order of a graph answer's nodes within one depth, as one caller is
 * shown them (docs/access-model.md, "The order of graph answers"): the jobs
 * it may read by job id, then the jobs it may not read by placeholder.
 * Ordering by real ids put a placeholder among the caller's own jobs where
 * the hidden id sorts, and a caller that could add jobs beside it found
 * the id by bisection. Every cut (max_nodes, pages, stream messages) is made
 * in this order, so that what is cut says nothing of a hidden id either.
 */

/** What orders a lineage for one caller, as plain data, so that a store's thread orders as the service does (JobViewer.of). */
export interface ShownTo {
  reader: Pick<Principal, 'tenant' | 'subject'>;
  /** The deployment's secret, which keys the placeholders. */
  placeholderKey: Uint8Array;
}

/** What a caller is shown of a job, for ordering: may it read the job, and what it may see of the job's id. */
export interface ShownOrderViewer {
  mayRead(job: ReadableBy): boolean;
  placeholder(jobId: string): string;
}

/** A node as a caller is shown it, for its place among the nodes of its depth (and relation): page and resume tokens carry this. */
export interface ShownId {
  /** The job id when the caller may read the job, its placeholder when not (hidden). */
  jobId: string;
  hidden?: boolean;
}

/** Readable before hidden, then by the id shown, in code units. */
export function compareShownIds(a: ShownId, b: ShownId): number {
  const [hiddenA, hiddenB] = [a.hidden === true, b.hidden === true];
  if (hiddenA !== hiddenB) return hiddenA ? 1 : -1;
  return compareCodeUnits(a.jobId, b.jobId);
}

/**
 * The order of items of one depth as viewer is shown them, each item's id
 * and access given by idOf and accessOf. A placeholder is made once per id
 * (a keyed hash: microseconds), not once per comparison.
 */
export function shownOrder<T>(viewer: ShownOrderViewer, idOf: (item: T) => string, accessOf: (item: T) => ReadableBy): (a: T, b: T) => number {
  const placeholder = placeholders(viewer);
  return (a, b) => {
    const [readsA, readsB] = [viewer.mayRead(accessOf(a)), viewer.mayRead(accessOf(b))];
    if (readsA !== readsB) return readsA ? -1 : 1;
    return readsA ? compareCodeUnits(idOf(a), idOf(b)) : compareCodeUnits(placeholder(idOf(a)), placeholder(idOf(b)));
  };
}

/** viewer.placeholder, made once per id. */
function placeholders(viewer: ShownOrderViewer): (jobId: string) => string {
  const made = new Map<string, string>();
  return (jobId) => {
    let placeholder = made.get(jobId);
    if (placeholder === undefined) made.set(jobId, (placeholder = viewer.placeholder(jobId)));
    return placeholder;
  };
}
