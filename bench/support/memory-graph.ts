import type Database from 'better-sqlite3';
import type { LineageCase } from './lineage-cases.js';

/**
 * The second lineage baseline of issue #18 ("within 2× an in-memory walk"):
 * the graph's edges read once from the same SQLite file into arrays indexed
 * by job number (compressed rows, both directions), and a breadth-first walk
 * over them that answers the ids reachable from a root, as the bare query
 * does. It is the least a service holding the graph in memory must do, with
 * no transport, ordering or encoding.
 */
export class MemoryGraph {
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly parents: Adjacency;
  private readonly children: Adjacency;
  private readonly seen: Int32Array;
  private stamp = 0;

  constructor(db: Database.Database) {
    const edges = db.prepare('SELECT child_id, parent_id FROM job_parents').raw().all() as Array<[string, string]>;
    const number = (id: string) => {
      let n = this.index.get(id);
      if (n === undefined) {
        n = this.ids.push(id) - 1;
        this.index.set(id, n);
      }
      return n;
    };
    const pairs = edges.map(([child, parent]) => [number(child), number(parent)] as const);
    this.parents = adjacency(this.ids.length, pairs);
    this.children = adjacency(this.ids.length, pairs.map(([child, parent]) => [parent, child] as const));
    this.seen = new Int32Array(this.ids.length);
  }

  /** A walk for the case: the ids reachable from a root within the case's depth (0: unbounded), the root left out. */
  walker(lineageCase: LineageCase): (rootId: string) => string[] {
    const edges = lineageCase.direction === 'ANCESTORS' ? this.parents : this.children;
    const maxDepth = lineageCase.maxDepth === 0 ? Infinity : lineageCase.maxDepth;
    return (rootId) => {
      const root = this.index.get(rootId);
      if (root === undefined) return [];
      const stamp = ++this.stamp;
      this.seen[root] = stamp;
      const found: string[] = [];
      let frontier = [root];
      for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
        const next: number[] = [];
        for (const node of frontier) {
          for (let e = edges.offsets[node]!; e < edges.offsets[node + 1]!; e++) {
            const neighbour = edges.targets[e]!;
            if (this.seen[neighbour] === stamp) continue;
            this.seen[neighbour] = stamp;
            next.push(neighbour);
            found.push(this.ids[neighbour]!);
          }
        }
        frontier = next;
      }
      return found;
    };
  }
}

interface Adjacency {
  /** The targets of node n are targets[offsets[n]] … targets[offsets[n + 1] − 1]. */
  offsets: Int32Array;
  targets: Int32Array;
}

function adjacency(nodes: number, pairs: ReadonlyArray<readonly [number, number]>): Adjacency {
  const offsets = new Int32Array(nodes + 1);
  for (const [from] of pairs) offsets[from + 1]!++;
  for (let n = 0; n < nodes; n++) offsets[n + 1]! += offsets[n]!;
  const fill = offsets.slice(0, nodes);
  const targets = new Int32Array(pairs.length);
  for (const [from, to] of pairs) targets[fill[from]!++] = to;
  return { offsets, targets };
}
