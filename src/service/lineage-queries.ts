import type { LineageCommand, ListDependentsCommand } from '../domain/commands.js';
import { invalidArgument } from '../domain/errors.js';
import type { JobRecord } from '../domain/job.js';
import { buildLineage, type Lineage, type LineageDirection, type LineageRow } from '../domain/lineage.js';
import { decodePageToken, encodePageToken } from '../domain/page-token.js';
import type { LineageProjection } from '../domain/ports/provenance-store.js';
import type { Principal } from '../domain/principal.js';
import { checkReproducibility, type ReproducibilityIssue } from '../domain/reproducibility.js';
import { Violations, effectivePageSize } from '../domain/validation.js';
import { getJob } from './job-queries.js';
import type { ServiceDependencies } from './provenance-service.js';

const PROJECTIONS = { IDS: 'IDS', BASIC: 'SUMMARY', FULL: 'FULL' } as const;

export async function getLineage(deps: ServiceDependencies, principal: Principal, command: LineageCommand): Promise<Lineage> {
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  if (command.directions === 'INVALID') v.add('direction', 'unknown direction');
  if (command.view === 'INVALID') v.add('view', 'unknown view');
  v.nonNegative('max_depth', command.maxDepth);
  v.nonNegative('max_nodes', command.maxNodes);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const root = await getJob(deps, principal, command.jobId);
  return walk(deps, root, command.directions as LineageDirection[], PROJECTIONS[command.view as keyof typeof PROJECTIONS], {
    maxDepth: capped(command.maxDepth, deps.limits.maxLineageDepth),
    maxNodes: capped(command.maxNodes, deps.limits.maxLineageNodes),
  });
}

/** 0 means the configured maximum; larger requests are capped at it. */
function capped(requested: number, maximum: number): number {
  return requested === 0 ? maximum : Math.min(requested, maximum);
}

/**
 * One store query per direction, reaching one level past maxDepth so that
 * buildLineage can tell whether the depth limit cut anything.
 */
async function walk(
  deps: ServiceDependencies,
  root: JobRecord,
  directions: readonly LineageDirection[],
  projection: LineageProjection,
  limits: { maxDepth: number; maxNodes: number },
): Promise<Lineage> {
  const query = (direction: LineageDirection) =>
    directions.includes(direction) ? deps.store.lineage({ rootId: root.jobId, direction, maxDepth: limits.maxDepth + 1, projection }) : undefined;
  const [ancestors, descendants] = await Promise.all([query('ANCESTORS'), query('DESCENDANTS')]);
  return buildLineage(rootRow(root), { ancestors, descendants }, limits);
}

function rootRow(root: JobRecord): LineageRow {
  return { jobId: root.jobId, parentIds: root.parentIds, type: root.type, status: root.status, cacheState: root.cacheState, record: root };
}

export interface DependentsPage {
  dependents: Array<{ job: JobRecord; depth: number }>;
  nextPageToken: string;
  truncated: boolean;
}

export async function listDependents(deps: ServiceDependencies, principal: Principal, command: ListDependentsCommand): Promise<DependentsPage> {
  const v = new Violations();
  v.jobId('job_id', command.jobId, true);
  v.nonNegative('page_size', command.pageSize);
  if (v.list.length > 0) throw invalidArgument(v.list);
  const query = { method: 'ListDependents', jobId: command.jobId, transitive: command.transitive };
  const position = command.pageToken ? decodePageToken(command.pageToken, query) : undefined;
  const afterDepth = typeof position?.depth === 'number' ? position.depth : 0;
  const afterJobId = typeof position?.jobId === 'string' ? position.jobId : '';
  if (position && !afterJobId) throw invalidArgument([{ field: 'page_token', description: 'is not a page token this service issued' }]);
  const pageSize = effectivePageSize(command.pageSize);
  const root = await getJob(deps, principal, command.jobId);

  let candidates: Array<{ job: JobRecord; depth: number }>;
  let truncated = false;
  if (command.transitive) {
    const lineage = await walk(deps, root, ['DESCENDANTS'], 'FULL', { maxDepth: deps.limits.maxLineageDepth, maxNodes: deps.limits.maxLineageNodes });
    truncated = lineage.truncation.length > 0;
    candidates = lineage.nodes
      .filter((n) => n.depth > afterDepth || (n.depth === afterDepth && n.row.jobId > afterJobId))
      .slice(0, pageSize + 1)
      .map((n) => ({ job: n.row.record!, depth: n.depth }));
  } else {
    const children = await deps.store.listChildren(root.jobId, pageSize + 1, afterJobId || undefined);
    candidates = children.map((job) => ({ job, depth: 1 }));
  }
  if (candidates.length <= pageSize) return { dependents: candidates, nextPageToken: '', truncated };
  const page = candidates.slice(0, pageSize);
  const last = page[page.length - 1]!;
  return { dependents: page, nextPageToken: encodePageToken(query, { depth: last.depth, jobId: last.job.jobId }), truncated };
}

export interface ExportCommand {
  jobId: string;
  directions: LineageDirection[] | 'INVALID';
  maxDepth: number;
}

/** The root and its lineage as whole records, limited like GetLineage with the configured maximum node count. */
export async function exportGraph(deps: ServiceDependencies, principal: Principal, command: ExportCommand): Promise<Lineage> {
  return getLineage(deps, principal, { ...command, maxNodes: 0, view: 'FULL' });
}

export interface ReproducibilityReport {
  jobId: string;
  issues: ReproducibilityIssue[];
  checkedAncestorCount: number;
}

export async function checkJobReproducibility(deps: ServiceDependencies, principal: Principal, jobId: string): Promise<ReproducibilityReport> {
  const job = await getJob(deps, principal, jobId);
  const limits = { maxDepth: deps.limits.maxLineageDepth, maxNodes: deps.limits.maxLineageNodes };
  const found = await deps.store.lineage({ rootId: job.jobId, direction: 'ANCESTORS', maxDepth: limits.maxDepth + 1, projection: 'FULL' });
  const lineage = buildLineage(rootRow(job), { ancestors: found }, limits);
  const ancestors = lineage.nodes.map((n) => n.row.record!);
  const issues = checkReproducibility({
    job,
    ancestors,
    known: new Map(found.map((row) => [row.jobId, row.record!])),
    ancestryTruncated: lineage.truncation.length > 0,
    volatileKeys: deps.limits.volatileKeys,
    hasHandler: (type, providerId) => deps.handlers.find(type, providerId) !== undefined,
  });
  return { jobId: job.jobId, issues, checkedAncestorCount: ancestors.length };
}
