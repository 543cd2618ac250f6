import { canonicalJson, compareCodeUnits, removeVolatileKeys } from './hashing.js';
import type { JobRecord, Provider } from './job.js';
import type { JobViewer, KnownJobs } from './job-view.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';

/** Fixed bounds of one CompareJobs answer (docs/limits.md). */
export const COMPARISON_LIMITS = {
  /** Payload differences listed per job pair; the others are counted. */
  maxPayloadDifferences: 100,
  /** Divergences listed per answer; the others are counted. */
  maxDivergences: 100,
  /** A value's canonical JSON longer than this is not shown. */
  maxValueJsonLength: 1024,
} as const;

export interface PayloadDifference {
  /** RFC 6901 JSON pointer. */
  path: string;
  /** Canonical JSON; empty when absent on that side or omitted. */
  leftValueJson: string;
  rightValueJson: string;
  valuesOmitted: boolean;
}

export interface ProviderChange {
  field: keyof Provider;
  leftValue: string;
  rightValue: string;
}

export interface ParentOutputDifference {
  leftParentJobId: string;
  rightParentJobId: string;
  leftOutputHash: string;
  rightOutputHash: string;
}

export interface JobDifference {
  leftJobId: string;
  rightJobId: string;
  definitionHashEqual: boolean;
  leftType: string;
  rightType: string;
  payloadDifferences: PayloadDifference[];
  omittedPayloadDifferenceCount: number;
  providerChanges: ProviderChange[];
  outputHashEqual: boolean;
  leftOutputHash: string;
  rightOutputHash: string;
  parentOutputDifferences: ParentOutputDifference[];
  unalignedLeftParentJobIds: string[];
  unalignedRightParentJobIds: string[];
}

export type Divergence = { depth: number; restricted: false; difference: JobDifference } | { depth: number; restricted: true; leftJobId: string; rightJobId: string };

export interface JobComparison {
  difference: JobDifference;
  divergences: Divergence[];
  omittedDivergenceCount: number;
  truncated: boolean;
  comparedAncestorPairCount: number;
}

export interface ComparisonInput {
  left: JobRecord;
  right: JobRecord;
  /** Every ancestor record of either job found within the lineage limits, by id (a parent not here has no record, or lies past the limits). */
  ancestors: ReadonlyMap<string, JobRecord>;
  /** Who may read each job the compared records name as a parent (both jobs' and every ancestor's): an id absent from it has no job. */
  known: KnownJobs;
  /** Whether either ancestry was cut by the lineage limits. */
  ancestryTruncated: boolean;
  /** Most ancestor pairs compared; past it the walk stops and the answer is truncated. */
  maxAncestorPairs: number;
  volatileKeys: ReadonlySet<string>;
  /** Who asks: an ancestor it may not read is shown as its placeholder and nothing else; nothing computed from it is told. */
  viewer: Pick<JobViewer, 'mayRead' | 'placeholder' | 'shownId'>;
}

/** Ancestor pairs compared between two pauses of compareJobsInSteps. */
export const COMPARISON_STEP_SIZE = 1_000;

/** compareJobsInSteps run to its end at once. */
export function compareJobs(input: ComparisonInput): JobComparison {
  const steps = compareJobsInSteps(input);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Explains how two jobs differ, then walks up their lineages along aligned
 * parents (breadth first, so each pair at its nearest depth) to the nearest
 * ancestor pairs where the difference starts; pauses every
 * COMPARISON_STEP_SIZE pairs, so that a large ancestry is compared in steps.
 */
export function* compareJobsInSteps(input: ComparisonInput): Generator<void, JobComparison> {
  const { viewer } = input;
  const { difference, aligned: rootAligned } = explain(input.left, input.right, input);
  const divergences: Divergence[] = [];
  const seen = new Set<string>();
  let truncated = input.ancestryTruncated;
  let compared = 0;
  let level: AlignedParents[] = [rootAligned];
  for (let depth = 1; level.length > 0; depth++) {
    const next: AlignedParents[] = [];
    for (const { pairs, unalignedLeft, unalignedRight } of level) {
      for (const hiddenId of unalignedLeft.filter((id) => hidden(id, input))) divergences.push(restrictedDivergence(depth, viewer.placeholder(hiddenId), ''));
      for (const hiddenId of unalignedRight.filter((id) => hidden(id, input))) divergences.push(restrictedDivergence(depth, '', viewer.placeholder(hiddenId)));
      for (const [leftParent, rightParent] of pairs) {
        const key = `${leftParent.jobId}\u0000${rightParent.jobId}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (compared >= input.maxAncestorPairs) {
          truncated = true;
          continue;
        }
        compared++;
        if (compared % COMPARISON_STEP_SIZE === 0) yield;
        const pair = explain(leftParent, rightParent, input);
        if (startsHere(pair.difference)) divergences.push({ depth, restricted: false, difference: pair.difference });
        else next.push(pair.aligned);
      }
    }
    level = next;
  }
  divergences.sort((a, b) => a.depth - b.depth || compareCodeUnits(divergenceLeftId(a), divergenceLeftId(b)) || compareCodeUnits(divergenceRightId(a), divergenceRightId(b)));
  return {
    difference,
    divergences: divergences.slice(0, COMPARISON_LIMITS.maxDivergences),
    omittedDivergenceCount: Math.max(0, divergences.length - COMPARISON_LIMITS.maxDivergences),
    truncated,
    comparedAncestorPairCount: compared,
  };
}

function restrictedDivergence(depth: number, leftJobId: string, rightJobId: string): Divergence {
  return { depth, restricted: true, leftJobId, rightJobId };
}

function divergenceLeftId(d: Divergence): string {
  return d.restricted ? d.leftJobId : d.difference.leftJobId;
}

function divergenceRightId(d: Divergence): string {
  return d.restricted ? d.rightJobId : d.difference.rightJobId;
}

/** A parent the caller may not read: never aligned, so nothing of it is compared; reported as a restricted divergence when unaligned. */
function hidden(jobId: string, input: ComparisonInput): boolean {
  const access = input.known.get(jobId);
  return access !== undefined && !input.viewer.mayRead(access);
}

/** The difference does not come only from the parents: the pair's own definition, provider or parents differ, or its outputs do with equal inputs. */
export function startsHere(d: JobDifference): boolean {
  return (
    !d.definitionHashEqual ||
    d.providerChanges.length > 0 ||
    d.unalignedLeftParentJobIds.length > 0 ||
    d.unalignedRightParentJobIds.length > 0 ||
    (!d.outputHashEqual && d.parentOutputDifferences.length === 0)
  );
}

/** How right differs from left (both readable by the caller), with their aligned parents, for the walk to go on from. */
function explain(left: JobRecord, right: JobRecord, input: Pick<ComparisonInput, 'ancestors' | 'known' | 'volatileKeys' | 'viewer'>): { difference: JobDifference; aligned: AlignedParents } {
  const payload = payloadDifferences(removeVolatileKeys(left.payload, input.volatileKeys), removeVolatileKeys(right.payload, input.volatileKeys));
  const aligned = alignParents(left, right, input);
  const { pairs, unalignedLeft, unalignedRight } = aligned;
  const leftOutputHash = left.result?.outputHash ?? '';
  const rightOutputHash = right.result?.outputHash ?? '';
  const shown = (id: string) => input.viewer.shownId(id, input.known);
  const difference: JobDifference = {
    leftJobId: left.jobId,
    rightJobId: right.jobId,
    definitionHashEqual: left.definitionHash === right.definitionHash,
    leftType: left.type,
    rightType: right.type,
    payloadDifferences: payload.slice(0, COMPARISON_LIMITS.maxPayloadDifferences),
    omittedPayloadDifferenceCount: Math.max(0, payload.length - COMPARISON_LIMITS.maxPayloadDifferences),
    providerChanges: (['id', 'model', 'version'] as const)
      .filter((field) => left.provider[field] !== right.provider[field])
      .map((field) => ({ field, leftValue: left.provider[field], rightValue: right.provider[field] })),
    outputHashEqual: leftOutputHash === rightOutputHash,
    leftOutputHash,
    rightOutputHash,
    parentOutputDifferences: pairs
      .filter(([l, r]) => (l.result?.outputHash ?? '') !== (r.result?.outputHash ?? ''))
      .map(([l, r]) => ({ leftParentJobId: l.jobId, rightParentJobId: r.jobId, leftOutputHash: l.result?.outputHash ?? '', rightOutputHash: r.result?.outputHash ?? '' })),
    unalignedLeftParentJobIds: unalignedLeft.map(shown),
    unalignedRightParentJobIds: unalignedRight.map(shown),
  };
  return { difference, aligned };
}

interface AlignedParents {
  /** Pairs of distinct readable parents, in the left job's parent order. */
  pairs: Array<[JobRecord, JobRecord]>;
  unalignedLeft: string[];
  unalignedRight: string[];
}

/**
 * Pairs the parents of two jobs: a parent both name is shared and not
 * compared; the others pair first by equal definition hash, then by equal
 * type, each in parent order. Parents the caller may not read, or without a
 * record, are never paired (their hashes must not show through an alignment).
 */
export function alignParents(left: JobRecord, right: JobRecord, input: Pick<ComparisonInput, 'ancestors' | 'viewer'>): AlignedParents {
  const rightIds = new Set(right.parentIds);
  const shared = new Set(left.parentIds.filter((id) => rightIds.has(id)));
  const comparable = (id: string) => {
    const record = input.ancestors.get(id);
    return record !== undefined && input.viewer.mayRead(record) ? record : undefined;
  };
  const leftOpen = left.parentIds.filter((id) => !shared.has(id));
  const rightOpen = right.parentIds.filter((id) => !shared.has(id));
  const partner = new Map<string, JobRecord>();
  const taken = new Set<string>();
  for (const sameBy of [(a: JobRecord, b: JobRecord) => a.definitionHash === b.definitionHash, (a: JobRecord, b: JobRecord) => a.type === b.type]) {
    for (const leftId of leftOpen) {
      const leftRecord = comparable(leftId);
      if (!leftRecord || partner.has(leftId)) continue;
      const match = rightOpen.find((rightId) => {
        const rightRecord = comparable(rightId);
        return !taken.has(rightId) && rightRecord !== undefined && sameBy(leftRecord, rightRecord);
      });
      if (match === undefined) continue;
      partner.set(leftId, comparable(match)!);
      taken.add(match);
    }
  }
  return {
    pairs: leftOpen.filter((id) => partner.has(id)).map((id) => [comparable(id)!, partner.get(id)!]),
    unalignedLeft: leftOpen.filter((id) => !partner.has(id)),
    unalignedRight: rightOpen.filter((id) => !taken.has(id)),
  };
}

/** Every place two JSON values differ, as RFC 6901 pointers in path order: objects by member, arrays by index. */
export function payloadDifferences(left: JsonValue | undefined, right: JsonValue | undefined, path = ''): PayloadDifference[] {
  if (left !== undefined && right !== undefined) {
    if (isJsonObject(left) && isJsonObject(right)) {
      const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort(compareCodeUnits);
      return keys.flatMap((key) => payloadDifferences(member(left, key), member(right, key), `${path}/${escapePointerToken(key)}`));
    }
    if (Array.isArray(left) && Array.isArray(right)) {
      const length = Math.max(left.length, right.length);
      return Array.from({ length }, (_, i) => payloadDifferences(left[i], right[i], `${path}/${i}`)).flat();
    }
  }
  const leftJson = left === undefined ? '' : canonicalJson(left);
  const rightJson = right === undefined ? '' : canonicalJson(right);
  if (leftJson === rightJson) return [];
  const valuesOmitted = leftJson.length > COMPARISON_LIMITS.maxValueJsonLength || rightJson.length > COMPARISON_LIMITS.maxValueJsonLength;
  return [{ path, leftValueJson: valuesOmitted ? '' : leftJson, rightValueJson: valuesOmitted ? '' : rightJson, valuesOmitted }];
}

function member(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function escapePointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
