import type { JobView } from './job-view.js';
import type { LineageDirection, LineageEdge, LineageNode, LineageRelation, LineageRow, TruncationReason } from './lineage.js';

/**
 * StreamLineage's walk, one layer at a time (docs/decisions.md, "Streamed
 * lineage"): breadth first from the root, both directions in step, each
 * layer sorted by job id, so that jobs come in GetLineage's order (nearest
 * first: by depth, ancestors before descendants, then job id) without the
 * whole lineage in hand. The walk asks the store for a chunk of a layer at a
 * time (ProvenanceStore.lineageStep) and keeps only each reached id with two
 * flags (sent, restricted) and the ids of the next layer: memory grows with
 * the ids reached (a map entry beside each id string), never with rows or
 * edges.
 */

/** Nodes per StreamLineage message (documented in the proto and docs/limits.md). */
export const LINEAGE_STREAM_SLICE_NODES = 1000;

/** Jobs per store step (ProvenanceStore.lineageStep): what one step's rows and children ids hold at most, beside one message. */
export const LINEAGE_STREAM_STEP_JOBS = 1000;

/** A job as ProvenanceStore.lineageStep returns it: its row in the IDS projection, and the ids of the jobs naming it as a parent. */
export interface LineageStepRow extends LineageRow {
  childIds: string[];
}

/** Where a stream stands: after the node with this key (the root: depth 0, relation ROOT). */
export interface StreamPosition {
  depth: number;
  relation: LineageRelation;
  jobId: string;
}

/** A node as the caller may see it (a restricted one under its placeholder), its position (real id), and its edges to nodes sent before it. */
export interface StreamedNode {
  /** In the IDS view: no record. */
  node: LineageNode<JobView>;
  position: StreamPosition;
  edges: LineageEdge[];
}

export interface LineageStreamWalkOptions {
  rootId: string;
  directions: readonly LineageDirection[];
  maxDepth: number;
  maxNodes: number;
  /** A resumed stream: the nodes up to this position are walked (they were sent before) but not returned. */
  resumeAfter?: StreamPosition;
  mayRead(row: LineageRow): boolean;
  placeholder(jobId: string): string;
}

// A reached id's flags: REACHED alone until its node is counted (sent, or sent before a resume).
const REACHED = 0;
const SENT = 2;
const RESTRICTED = 1;

const RELATION_ORDER: Record<LineageRelation, number> = { ROOT: 0, ANCESTOR: 1, DESCENDANT: 2 };

/** The order of the stream: by depth, ancestors before descendants, then job id by UTF-16 code units. */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.relation !== b.relation) return RELATION_ORDER[a.relation] - RELATION_ORDER[b.relation];
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/**
 * The walk's state, driven by the caller: nextStep() names the jobs to ask
 * the store for next (up to LINEAGE_STREAM_STEP_JOBS, in stream order),
 * accept() takes the store's rows of them and returns the nodes to send, in
 * order, each with the edges joining it to nodes sent before it (so each
 * edge once, with its later endpoint). The walk goes one layer past
 * maxDepth to tell whether the depth limit cut anything, and on past
 * maxNodes (sending nothing) for the same reason, as GetLineage does.
 *
 * A job is reached once, at its first position: on a cycle through the root
 * (insertJobs never stores one; older data may hold one) that is where the
 * walk meets it first, where GetLineage would show it as an ancestor.
 */
export class LineageStreamWalk {
  private readonly reached = new Map<string, number>();
  private depth = 0;
  /** The layer being walked, by relation, each sorted by job id; at depth 0, the root alone as an "ancestor". */
  private layer: { ancestors: string[]; descendants: string[] };
  private next: { ancestors: string[]; descendants: string[] } = { ancestors: [], descendants: [] };
  private relation: 'ANCESTOR' | 'DESCENDANT' = 'ANCESTOR';
  private offset = 0;
  private asked: string[] = [];
  /** Positions counted so far, those sent before a resume included. */
  private counted = 0;
  private readonly truncation = new Set<TruncationReason>();
  private finished = false;

  constructor(private readonly options: LineageStreamWalkOptions) {
    this.layer = { ancestors: [options.rootId], descendants: [] };
    this.reached.set(options.rootId, SENT);
  }

  /** The ids to read next (ProvenanceStore.lineageStep), or undefined once the walk is over. */
  nextStep(): string[] | undefined {
    while (!this.finished) {
      const ids = this.relation === 'ANCESTOR' ? this.layer.ancestors : this.layer.descendants;
      if (this.offset < ids.length) {
        this.asked = ids.slice(this.offset, this.offset + LINEAGE_STREAM_STEP_JOBS);
        this.offset += this.asked.length;
        return this.asked;
      }
      if (this.relation === 'ANCESTOR') {
        this.relation = 'DESCENDANT';
        this.offset = 0;
        continue;
      }
      this.startNextLayer();
    }
    return undefined;
  }

  /** Every limit that cut the lineage; final once nextStep() returned undefined. */
  truncationReasons(): TruncationReason[] {
    return [...this.truncation].sort();
  }

  /** The rows of the ids nextStep() named last (any order; an id without a record has none): the nodes they add to the stream. */
  accept(rows: readonly LineageStepRow[]): StreamedNode[] {
    const byId = new Map(rows.map((row) => [row.jobId, row]));
    const streamed: StreamedNode[] = [];
    for (const jobId of this.asked) {
      const row = byId.get(jobId);
      // A parent without a record is not part of the lineage, and nothing lies behind it.
      if (!row) continue;
      if (this.depth === 0) {
        this.reach(row, 'ROOT');
        continue;
      }
      if (this.depth > this.options.maxDepth) {
        this.truncation.add('MAX_DEPTH');
        this.finished = true;
        break;
      }
      this.reach(row, this.relation);
      const position: StreamPosition = { depth: this.depth, relation: this.relation, jobId };
      const resumed = this.options.resumeAfter !== undefined && comparePositions(position, this.options.resumeAfter) <= 0;
      if (!resumed && this.counted >= this.options.maxNodes) {
        this.truncation.add('MAX_NODES');
        continue;
      }
      this.counted++;
      const restricted = !this.options.mayRead(row);
      if (!resumed) streamed.push({ node: this.shown(row, restricted), position, edges: this.edgesToSent(row, restricted) });
      this.reached.set(jobId, this.reached.get(jobId)! | SENT | (restricted ? RESTRICTED : 0));
    }
    return streamed;
  }

  /** Adds the row's unreached neighbours in the walk's direction (both from the root) to the next layer. */
  private reach(row: LineageStepRow, relation: LineageRelation): void {
    if (this.depth > this.options.maxDepth) return;
    const { directions } = this.options;
    if (relation === 'ANCESTOR' || (relation === 'ROOT' && directions.includes('ANCESTORS'))) {
      for (const parentId of row.parentIds) {
        if (this.reached.has(parentId)) continue;
        this.reached.set(parentId, REACHED);
        this.next.ancestors.push(parentId);
      }
    }
    if (relation === 'DESCENDANT' || (relation === 'ROOT' && directions.includes('DESCENDANTS'))) {
      for (const childId of row.childIds) {
        if (this.reached.has(childId)) continue;
        this.reached.set(childId, REACHED);
        this.next.descendants.push(childId);
      }
    }
  }

  private startNextLayer(): void {
    this.depth++;
    this.layer = { ancestors: this.next.ancestors.sort(), descendants: this.next.descendants.sort() };
    this.next = { ancestors: [], descendants: [] };
    this.relation = 'ANCESTOR';
    this.offset = 0;
    if (this.layer.ancestors.length + this.layer.descendants.length === 0) this.finished = true;
    // Past maxDepth, a descendant always has a record: the limit cut something without another read.
    else if (this.depth > this.options.maxDepth && this.layer.descendants.length > 0) {
      this.truncation.add('MAX_DEPTH');
      this.finished = true;
    }
  }

  private shown(row: LineageStepRow, restricted: boolean): LineageNode<JobView> {
    const { depth, relation } = this;
    if (restricted) return { depth, relation, restricted: true, row: { jobId: this.options.placeholder(row.jobId), parentIds: [], tenant: '', readers: [] } };
    return { depth, relation, row: { jobId: row.jobId, parentIds: row.parentIds, tenant: row.tenant, readers: row.readers } };
  }

  /** The edges between the row and the nodes already sent, with the ids the caller is shown. */
  private edgesToSent(row: LineageStepRow, restricted: boolean): LineageEdge[] {
    const edges: LineageEdge[] = [];
    const self = restricted ? this.options.placeholder(row.jobId) : row.jobId;
    const sentId = (jobId: string): string | undefined => {
      const state = this.reached.get(jobId);
      if (state === undefined || (state & SENT) === 0) return undefined;
      return state & RESTRICTED ? this.options.placeholder(jobId) : jobId;
    };
    for (const parentId of row.parentIds) {
      const parent = sentId(parentId);
      if (parent !== undefined) edges.push({ parentJobId: parent, childJobId: self });
    }
    for (const childId of row.childIds) {
      const child = sentId(childId);
      if (child !== undefined) edges.push({ parentJobId: self, childJobId: child });
    }
    return edges;
  }
}
