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

/** A node's place among the nodes of its depth (and relation): readable before hidden, then by the id shown (job id or placeholder), in code units. */
export interface ShownKey {
  hidden: boolean;
  /** The job id when readable, the placeholder when hidden. */
  id: string;
}

export function compareShownKeys(a: ShownKey, b: ShownKey): number {
  if (a.hidden !== b.hidden) return a.hidden ? 1 : -1;
  return compareCodeUnits(a.id, b.id);
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

/** A job's ShownKey for viewer. */
export function shownKey(viewer: ShownOrderViewer, jobId: string, access: ReadableBy): ShownKey {
  return viewer.mayRead(access) ? { hidden: false, id: jobId } : { hidden: true, id: viewer.placeholder(jobId) };
}

/** viewer.placeholder, made once per id. */
export function placeholders(viewer: ShownOrderViewer): (jobId: string) => string {
  const made = new Map<string, string>();
  return (jobId) => {
    let placeholder = made.get(jobId);
    if (placeholder === undefined) made.set(jobId, (placeholder = viewer.placeholder(jobId)));
    return placeholder;
  };
}
