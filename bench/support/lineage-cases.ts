import type Database from 'better-sqlite3';
import { LineageDirection, LineageView, TruncationReason, type ProvenanceClient } from '@provenance/client';
import { graphJobId, sampleIndexes } from './graph.js';

/** A lineage question of issue #7, asked of the service and of the bare query alike. */
export interface LineageCase {
  name: string;
  direction: 'ANCESTORS' | 'DESCENDANTS';
  /** 0: as deep as the graph goes. */
  maxDepth: number;
  roots: string[];
}

export const FULL_ANCESTORS = 'ancestors (full)';
export const DESCENDANTS = 'descendants of an early job (full)';

/** The three cases of issue #7 on a graph of size jobs: ancestors of late jobs (whole, and 10 deep), descendants of early ones. */
export function lineageCases(size: number, rootsPerCase: number): LineageCase[] {
  const late = sampleIndexes(rootsPerCase, Math.floor(size * 0.9), size, 7).map(graphJobId);
  const early = sampleIndexes(rootsPerCase, 0, Math.max(1, Math.floor(size * 0.01)), 11).map(graphJobId);
  return [
    { name: FULL_ANCESTORS, direction: 'ANCESTORS', maxDepth: 0, roots: late },
    { name: 'ancestors, max_depth 10', direction: 'ANCESTORS', maxDepth: 10, roots: late },
    { name: DESCENDANTS, direction: 'DESCENDANTS', maxDepth: 0, roots: early },
  ];
}

/** GetLineage through the generated client; resolves with the number of nodes. */
export async function serviceLineage(client: ProvenanceClient, lineageCase: LineageCase, rootId: string, view = LineageView.LINEAGE_VIEW_IDS): Promise<number> {
  const request = {
    jobId: rootId,
    direction: lineageCase.direction === 'ANCESTORS' ? LineageDirection.LINEAGE_DIRECTION_ANCESTORS : LineageDirection.LINEAGE_DIRECTION_DESCENDANTS,
    maxDepth: lineageCase.maxDepth,
    view,
  };
  // The compact view is timed as a user gets it: decoded into the same graph as the other views, nodes and edges read.
  const answer = view === LineageView.LINEAGE_VIEW_COMPACT ? await client.getLineageGraph(request) : await client.getLineage(request);
  // Reading the edges builds them in the compact view's graph, part of what its user pays; every node is joined to the root by one.
  if (answer.edges.length === 0 && answer.nodes.length > 0) throw new Error(`the lineage of ${rootId} has nodes but no edges`);
  const cut = answer.truncationReasons.filter((reason) => lineageCase.maxDepth === 0 || reason !== TruncationReason.TRUNCATION_REASON_MAX_DEPTH);
  if (cut.length > 0) throw new Error(`the lineage of ${rootId} was truncated (${cut.map((r) => TruncationReason[r]).join(', ')}): raise the server's limits`);
  return answer.nodes.length;
}

/**
 * The bare recursive query a developer would write for the same question,
 * on the same file: the set of job ids reachable from the root (UNION
 * removes repeats), within maxDepth edges when the case has a bound.
 */
export function bareLineageStatement(db: Database.Database, lineageCase: LineageCase): (rootId: string) => number {
  const [from, to] = lineageCase.direction === 'ANCESTORS' ? ['child_id', 'parent_id'] : ['parent_id', 'child_id'];
  if (lineageCase.maxDepth === 0) {
    const statement = db.prepare(`
      WITH RECURSIVE walk(id) AS (SELECT @root UNION SELECT edge.${to} FROM job_parents AS edge JOIN walk ON edge.${from} = walk.id)
      SELECT id FROM walk WHERE id <> @root`);
    return (rootId) => statement.pluck().all({ root: rootId }).length;
  }
  const statement = db.prepare(`
    WITH RECURSIVE walk(id, depth) AS (
      SELECT ?, 0 UNION SELECT edge.${to}, walk.depth + 1 FROM job_parents AS edge JOIN walk ON edge.${from} = walk.id WHERE walk.depth < ?)
    SELECT DISTINCT id FROM walk WHERE depth > 0`);
  return (rootId) => statement.pluck().all(rootId, lineageCase.maxDepth).length;
}
