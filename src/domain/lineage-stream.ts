import type { JobView } from './job-view.js';
import type { LineageDirection, LineageEdge, LineageNode, LineageRelation, LineageRow, TruncationReason } from './lineage.js';
import { compareCodeUnits } from './hashing.js';
import { compareShownIds, type ShownId } from './shown-order.js';

/**
 * StreamLineage's walk, one layer at a time (docs/decisions.md, "Streamed
 * lineage"): breadth first from the root, both directions in step, so that
 * jobs come in GetLineage's order (nearest first: by depth, ancestors before
 * descendants, then as the caller is shown them: shown-order.ts) without
 * the whole lineage in hand. The walk asks the store for a chunk of a layer
 * at a time (ProvenanceStore.lineageStep), in job id order, and sends the
 * jobs the caller may read as they come; it notes the others, and once the
 * layer's ids are read, reads those again in placeholder order and sends
 * them. It keeps each reached id with two flags (sent, restricted), the ids
 * of the next layer, and the placeholders of the layer's hidden jobs:
 * memory grows with the ids reached (a map entry beside each id string),
 * never with rows or edges.
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
export interface StreamPosition extends ShownId {
  depth: number;
  relation: LineageRelation;
}

/** A node as the caller may see it (a restricted one under its placeholder), its position, and its edges to nodes sent before it. */
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

/** The order of the stream: by depth, ancestors before descendants, then as shown (shown-order.ts): readable jobs by id, then hidden ones by placeholder, by UTF-16 code units. */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.relation !== b.relation) return RELATION_ORDER[a.relation] - RELATION_ORDER[b.relation];
  return compareShownIds(a, b);
}

/** A node's position as the caller is shown it. */
export function positionOf(node: Pick<LineageNode, 'depth' | 'relation' | 'restricted' | 'row'>): StreamPosition {
  return { depth: node.depth, relation: node.relation, jobId: node.row.jobId, ...(node.restricted ? { hidden: true } : {}) };
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
 * Each layer's ids of one relation are read in job id order, and the jobs
 * the caller may read are sent as they come; those it may not read are
 * read again once the others are, in placeholder order, and sent then, so
 * that where a placeholder comes says nothing of the hidden id.
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
  /** Reading the layer's ids of this relation by job id, or then its hidden ones by placeholder (hiddenIds). */
  private pass: 'byJobId' | 'hidden' = 'byJobId';
  /** The hidden jobs met in the byJobId pass, with their placeholders; sorted by placeholder for the hidden pass. */
  private hidden: Array<[placeholder: string, jobId: string]> = [];
  private hiddenIds: string[] = [];
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
      const ids = this.pass === 'hidden' ? this.hiddenIds : this.relation === 'ANCESTOR' ? this.layer.ancestors : this.layer.descendants;
      if (this.offset < ids.length) {
        this.asked = ids.slice(this.offset, this.offset + LINEAGE_STREAM_STEP_JOBS);
        this.offset += this.asked.length;
        return this.asked;
      }
      this.offset = 0;
      if (this.pass === 'byJobId' && this.hidden.length > 0) {
        this.pass = 'hidden';
        this.hiddenIds = this.hidden.sort((a, b) => compareCodeUnits(a[0], b[0])).map(([, jobId]) => jobId);
        this.hidden = [];
        continue;
      }
      this.pass = 'byJobId';
      this.hiddenIds = [];
      if (this.relation === 'ANCESTOR') {
        this.relation = 'DESCENDANT';
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
      const restricted = this.pass === 'hidden';
      if (!restricted) {
        this.reach(row, this.relation);
        if (!this.options.mayRead(row)) {
          // Sent in the hidden pass, by placeholder; it stays unreadable there even if its grants change meanwhile.
          this.hidden.push([this.options.placeholder(jobId), jobId]);
          continue;
        }
      }
      const position: StreamPosition = { depth: this.depth, relation: this.relation, ...(restricted ? { jobId: this.options.placeholder(jobId), hidden: true } : { jobId }) };
      const resumed = this.options.resumeAfter !== undefined && comparePositions(position, this.options.resumeAfter) <= 0;
      if (!resumed && this.counted >= this.options.maxNodes) {
        this.truncation.add('MAX_NODES');
        continue;
      }
      this.counted++;
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
