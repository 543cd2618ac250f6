import { canRead, requireRole } from '../domain/access.js';
import type { RecordJobCommand } from '../domain/commands.js';
import { ProvenanceError, invalidArgument, jobResource, lineageCycle, parentsNotFound } from '../domain/errors.js';
import { canonicalJson, definitionHash, inputHash } from '../domain/hashing.js';
import { builtOnStale, invalidated } from '../domain/execution.js';
import { invalidateBuiltOnStale } from './execution/invalidation.js';
import { newJobId } from '../domain/ids.js';
import type { JobRecord } from '../domain/job.js';
import type { JobView } from '../domain/job-view.js';
import { descendantsWithPending, findCycle, type LineageRow } from '../domain/lineage.js';
import type { Principal } from '../domain/principal.js';
import { newRecordedJob, recordFingerprint, updateRecordedJob } from '../domain/recording.js';
import { redactRequest } from '../domain/redaction.js';
import { sharedTime } from '../domain/shared-time.js';
import { validateBatch, validateRecordJob } from '../domain/validation.js';
import { settle } from './execution/settlement.js';
import { groupCommit } from './group-commit.js';
import type { ServiceDependencies } from './provenance-service.js';
import { knownJobs, viewerOf, viewJobs } from './views.js';

export type RecordOutcome = { ok: true; job: JobView } | { ok: false; error: ProvenanceError };
/**
 * The transport's check of the answer a batch is to get, before anything is
 * written: its records as the caller will see them, and how many records are
 * refused. It throws to refuse the whole request (gRPC: an answer over the
 * send limit, which could not be sent once the records stood).
 */
export type AnswerCheck = (jobs: readonly JobView[], refused: number) => void;
/** An outcome as decided, before the caller's view of it. */
type Decided = { ok: true; job: JobRecord } | { ok: false; error: ProvenanceError };

interface Prepared {
  index: number;
  /** The request with its secrets redacted: what is stored, hashed and published. */
  command: RecordJobCommand;
  payloadRedacted: boolean;
  jobId: string;
  fingerprint: string;
  definitionHash: string;
}

/**
 * RecordJob and BatchRecordJobs. A batch is read in three queries (request
 * ids, existing jobs and parents, referenced ids) whatever its size, decided
 * in order in memory, and written in one insert; each record gets its own
 * outcome. Writes that lose a race with another caller are decided again,
 * once, against what the winner stored.
 */
export async function recordJobs(deps: ServiceDependencies, principal: Principal, commands: readonly RecordJobCommand[], answerCheck?: AnswerCheck): Promise<RecordOutcome[]> {
  requireRole(principal, 'submitter', 'Recording jobs');
  const violations = validateBatch(commands, deps.limits);
  if (violations.length > 0) throw invalidArgument(violations);
  const recorder = new BatchRecorder(deps, principal);
  const decided = await recorder.record(commands, true, answerCheck);
  // The records written as decided have their views from the answer's check; a record decided again after a lost race has not.
  const { checkedViews } = recorder;
  const unviewed = decided.flatMap((outcome) => (outcome.ok && !checkedViews.has(outcome.job) ? [outcome.job] : []));
  const views = await viewJobs(deps, principal, unviewed, recorder.loaded());
  unviewed.forEach((job, i) => checkedViews.set(job, views[i]!));
  return decided.map((outcome) => (outcome.ok ? { ok: true, job: checkedViews.get(outcome.job)! } : outcome));
}

class BatchRecorder {
  private readonly now: Date;
  /** The caller's views of the records decided, made for the answer's check before the write: the answer is made of them. */
  readonly checkedViews = new Map<JobRecord, JobView>();
  /** Existing records by id: the jobs named in the batch and the parents they name. */
  private known = new Map<string, JobRecord>();
  private byRequestId = new Map<string, JobRecord>();
  private referenced = new Set<string>();
  /** Records of this batch that are still to be inserted, by id. */
  private readonly pending = new Map<string, JobRecord>();
  /** Every id the pending records name as a parent (a superset, should an update change parents). */
  private readonly namedByPending = new Set<string>();
  private readonly updates = new Map<string, { record: JobRecord; expectedEtag: string }>();
  /** The records written STALE because a parent was (builtOnStale), by id. */
  private readonly madeStale = new Map<string, JobRecord>();
  /** The ids records of this batch name as a parent before a record of that id was decided in it: those records did not see it. */
  private readonly namedBeforeDecided = new Set<string>();
  /** Ids this batch generated (records without a client-chosen id): nothing can name them yet, so they close no cycle. */
  private readonly generatedIds = new Set<string>();

  constructor(
    private readonly deps: ServiceDependencies,
    private readonly principal: Principal,
  ) {
    // Every record of the batch and its events carry this time.
    this.now = sharedTime(deps.now());
  }

  async record(commands: readonly RecordJobCommand[], retryConflicts: boolean, answerCheck?: AnswerCheck): Promise<Decided[]> {
    const outcomes: Decided[] = new Array(commands.length);
    const prepared: Prepared[] = [];
    commands.forEach((command, index) => {
      const violations = validateRecordJob(command, this.deps.limits);
      if (violations.length > 0) outcomes[index] = { ok: false, error: invalidArgument(violations) };
      else prepared.push(this.prepare(command, index));
    });
    await this.load(prepared);

    const decided: Array<{ prepared: Prepared; job: JobRecord }> = [];
    for (const item of prepared) {
      try {
        const job = await this.decide(item);
        decided.push({ prepared: item, job });
        outcomes[item.index] = { ok: true, job };
      } catch (error) {
        if (!(error instanceof ProvenanceError)) throw error;
        outcomes[item.index] = { ok: false, error };
      }
    }

    if (answerCheck) {
      const views = await viewJobs(this.deps, this.principal, decided.map((d) => d.job), this.loaded());
      answerCheck(views, commands.length - decided.length);
      decided.forEach((d, i) => this.checkedViews.set(d.job, views[i]!));
    }
    const { lostRaces, cycles } = await this.write();
    await this.invalidateBelowMadeStale(lostRaces, cycles);
    if (cycles.size > 0) {
      // The store found the cycle through jobs this batch did not read: their access is looked up for the path shown.
      const known = await knownJobs(this.deps, [...cycles.values()].flat(), this.loaded());
      const viewer = viewerOf(this.deps, this.principal);
      for (const { prepared: item, job } of decided) {
        const cycle = cycles.get(job.jobId);
        if (cycle) outcomes[item.index] = { ok: false, error: lineageCycle(job.jobId, viewer.shownIds(cycle, known)) };
      }
    }
    if (lostRaces.size > 0) {
      const again = decided.filter((d) => lostRaces.has(d.job.jobId));
      const retried = retryConflicts ? await this.decideAgain(again, decided, lostRaces, cycles, commands.length, answerCheck) : again.map(() => ({ ok: false as const, error: concurrentWrite() }));
      again.forEach((d, i) => (outcomes[d.prepared.index] = retried[i]!));
    }
    return outcomes;
  }

  /**
   * The records whose write lost a race, decided again against what the
   * winner stored and written, once. The answer is checked again first, with
   * them as now decided: the first check saw what lost, and the winner's
   * record may be larger. When it would not fit, a lone record is refused
   * as the check refuses it (nothing of the request was written); in a batch
   * whose other records stand, each is CONCURRENT_WRITE, to be sent again.
   */
  private async decideAgain(
    again: ReadonlyArray<{ prepared: Prepared; job: JobRecord }>,
    decided: ReadonlyArray<{ prepared: Prepared; job: JobRecord }>,
    lostRaces: ReadonlySet<string>,
    cycles: ReadonlyMap<string, string[]>,
    commandCount: number,
    answerCheck: AnswerCheck | undefined,
  ): Promise<Decided[]> {
    const standing = decided.filter((d) => !lostRaces.has(d.job.jobId) && !cycles.has(d.job.jobId)).map((d) => this.checkedViews.get(d.job)!);
    const refusedBefore = commandCount - standing.length - again.length;
    let refusal: unknown;
    const recheck: AnswerCheck | undefined =
      answerCheck &&
      ((views, refused) => {
        try {
          answerCheck([...standing, ...views], refusedBefore + refused);
        } catch (error) {
          refusal = error;
          throw error;
        }
      });
    try {
      return await new BatchRecorder(this.deps, this.principal).record(
        again.map((d) => d.prepared.command),
        false,
        recheck,
      );
    } catch (error) {
      if (commandCount === 1 || error !== refusal) throw error;
      return again.map(() => ({ ok: false as const, error: concurrentWrite() }));
    }
  }

  /** The records this recorder read or made: what the answer's view needs to know of most of the ids they name. */
  loaded(): JobRecord[] {
    return [...this.known.values(), ...this.pending.values()];
  }

  private prepare(request: RecordJobCommand, index: number): Prepared {
    const { request: command, redacted } = redactRequest(request, this.deps.limits.isSecretKey);
    const jobId = command.jobId ?? newJobId(this.now);
    if (!command.jobId) this.generatedIds.add(jobId);
    // One canonical text of the payload serves both hashes.
    const canonicalPayload = canonicalJson(command.payload);
    return {
      index,
      command,
      payloadRedacted: redacted,
      jobId,
      fingerprint: recordFingerprint(command, canonicalPayload),
      definitionHash: definitionHash(command.type, command.payload, this.deps.limits.volatileKeys, canonicalPayload),
    };
  }

  private async load(prepared: readonly Prepared[]): Promise<void> {
    const { store } = this.deps;
    const requestIds = prepared.flatMap((p) => (p.command.requestId ? [p.command.requestId] : []));
    const clientIds = prepared.flatMap((p) => (p.command.jobId ? [p.command.jobId] : []));
    const wanted = new Set([...clientIds, ...prepared.flatMap((p) => p.command.parentIds)]);
    const [replays, existing] = await Promise.all([
      requestIds.length > 0 ? store.findByRequestIds(this.principal.tenant, requestIds) : [],
      wanted.size > 0 ? store.getJobs([...wanted]) : [],
    ]);
    this.byRequestId = new Map(replays.map((r) => [r.requestId!, r]));
    this.known = new Map(existing.map((r) => [r.jobId, r]));
    const newClientIds = clientIds.filter((id) => !this.known.has(id));
    this.referenced = new Set(newClientIds.length > 0 ? await store.findReferencedIds(newClientIds) : []);
  }

  private async decide(item: Prepared): Promise<JobRecord> {
    const { command, jobId } = item;
    const replay = command.requestId ? this.byRequestId.get(command.requestId) : undefined;
    if (replay) {
      if (replay.requestHash !== item.fingerprint) throw requestIdReused(command.requestId!, replay.jobId);
      return replay;
    }
    const existing = this.pending.get(jobId) ?? this.known.get(jobId);
    // Job ids are global: a job under this id that the caller may not read is a clash, told as nothing more.
    if (existing && !canRead(this.principal, existing)) throw jobIdTaken(jobId);
    if (existing) return this.update(existing, command);

    // A parent the caller may not read is refused in the words, status and details a missing one is (issue #13, item 7);
    // allow_missing_parents keeps only those that do not exist (docs/decisions.md, Security).
    const notFound = command.parentIds.filter((id) => !this.pending.has(id) && !this.mayReadStored(id));
    const refused = command.allowMissingParents ? notFound.filter((id) => this.known.has(id)) : notFound;
    if (refused.length > 0) throw parentsNotFound(refused, command.allowMissingParents ? undefined : 'set allow_missing_parents to keep them as dangling references');
    await this.refuseCycle(item);

    const recorded = newRecordedJob(command, {
      jobId,
      now: this.now,
      principal: this.principal,
      definitionHash: item.definitionHash,
      inputHash: inputHash(
        item.definitionHash,
        command.parentIds.map((id) => ({ jobId: id, outputHash: (this.pending.get(id) ?? this.known.get(id))?.result?.outputHash ?? null })),
      ),
      fingerprint: item.fingerprint,
      payloadRedacted: item.payloadRedacted,
      tenantCacheSalt: this.deps.execution.tenantCacheSalts.get(this.principal.tenant),
    });
    const record = this.staleWhenBuiltOnStale(recorded);
    this.addPending(record);
    if (command.requestId) this.byRequestId.set(command.requestId, record);
    return record;
  }

  private mayReadStored(jobId: string): boolean {
    const job = this.known.get(jobId);
    return job !== undefined && canRead(this.principal, job);
  }

  private update(existing: JobRecord, command: RecordJobCommand): JobRecord {
    const change = updateRecordedJob(this.principal, existing, command, this.now);
    if (change.kind === 'unchanged') return existing;
    const record = this.staleWhenBuiltOnStale(change.record);
    if (this.pending.has(existing.jobId)) {
      this.addPending(record);
    } else {
      const expectedEtag = this.updates.get(existing.jobId)?.expectedEtag ?? existing.etag;
      this.updates.set(existing.jobId, { record, expectedEtag });
      this.known.set(existing.jobId, record);
    }
    return record;
  }

  /** A result recorded on a STALE parent's is STALE (builtOnStale), as the parents were read before the write, with its cache.invalidated event. */
  private staleWhenBuiltOnStale(record: JobRecord): JobRecord {
    const parents = record.parentIds.map((id) => this.pending.get(id) ?? this.known.get(id));
    if (!builtOnStale(record, parents)) return record;
    const stale = invalidated(record, [record.jobId], this.now);
    this.madeStale.set(record.jobId, stale);
    return stale;
  }

  /**
   * The jobs that already named a record written STALE as a parent (it was
   * RUNNING then, or did not exist yet) were built on it: they become STALE
   * as its owner's invalidation would make them (invalidateBuiltOnStale).
   * Only a record some job may name without having seen it STALE is walked:
   * an existing one moved forward, a new id stored jobs name, or one a
   * record of this batch named before it was decided; records of the batch
   * decided after it saw it STALE, and are so.
   */
  private async invalidateBelowMadeStale(lostRaces: ReadonlySet<string>, cycles: ReadonlyMap<string, string[]>): Promise<void> {
    for (const [jobId, record] of this.madeStale) {
      if (lostRaces.has(jobId) || cycles.has(jobId)) continue;
      if (this.updates.has(jobId) || this.referenced.has(jobId) || this.namedBeforeDecided.has(jobId)) await invalidateBuiltOnStale(this.deps, record, false);
    }
  }

  private addPending(record: JobRecord): void {
    this.pending.set(record.jobId, record);
    for (const parentId of record.parentIds) {
      this.namedByPending.add(parentId);
      if (!this.pending.has(parentId) && !this.known.has(parentId)) this.namedBeforeDecided.add(parentId);
    }
  }

  /**
   * Only a client-chosen id that some job already names as a parent can close
   * a cycle. This check, on what was read before the write, refuses the cycles
   * of sequential writes early (and keeps a batch's later records from naming
   * a refused one); the store checks again atomically with the insert, which
   * is what holds under concurrency.
   */
  private async refuseCycle(item: Prepared): Promise<void> {
    const { jobId, command } = item;
    let cycle = command.parentIds.includes(jobId) ? [jobId, jobId] : undefined;
    let descendants: LineageRow[] = [];
    if (!cycle && command.jobId && (this.referenced.has(jobId) || this.namedByPending.has(jobId))) {
      descendants = await descendantsWithPending(
        jobId,
        [...this.pending.values()],
        (id) => this.deps.store.lineage({ rootId: id, direction: 'DESCENDANTS', projection: 'IDS' }),
        // Stored jobs name only the new ids they were found to name, and existing jobs.
        (id) => this.referenced.has(id) || this.known.has(id),
      );
      cycle = findCycle(jobId, command.parentIds, descendants);
    }
    if (cycle) throw lineageCycle(jobId, this.shownPath(cycle, descendants));
  }

  /** A cycle's path as the caller may see it: a job on it that the caller may not read is named by its placeholder. */
  private shownPath(cycle: readonly string[], descendants: readonly LineageRow[]): string[] {
    const rows = new Map(descendants.map((row) => [row.jobId, row]));
    const known = new Map(cycle.map((id) => [id, rows.get(id) ?? this.pending.get(id) ?? this.known.get(id)]));
    return viewerOf(this.deps, this.principal).shownIds(cycle, known);
  }

  /** Writes the batch; returns the ids whose write lost a race with another caller, and the cycles the store refused. */
  private async write(): Promise<{ lostRaces: Set<string>; cycles: Map<string, string[]> }> {
    const lost = new Set<string>();
    const cycles = new Map<string, string[]>();
    const inserts = [...this.pending.values()];
    if (inserts.length > 0) {
      const outcomes = await groupCommit(this.deps.store).insertAll(inserts, this.generatedIds);
      outcomes.forEach((outcome, i) => {
        if (outcome.inserted) return;
        if (outcome.conflict === 'LINEAGE_CYCLE') cycles.set(inserts[i]!.jobId, outcome.cycle);
        else lost.add(inserts[i]!.jobId);
      });
    }
    for (const { record, expectedEtag } of this.updates.values()) {
      if (!(await this.deps.store.replaceJob(record, expectedEtag))) lost.add(record.jobId);
      // A recorded job that finishes may be what submitted jobs wait for.
      else await settle(this.deps, record);
    }
    return { lostRaces: lost, cycles };
  }
}

function jobIdTaken(jobId: string): ProvenanceError {
  return new ProvenanceError('ALREADY_EXISTS', `job id ${jobId} is taken; choose another (job ids are global: prefixing them with your tenant avoids clashes)`, 'JOB_ALREADY_EXISTS');
}

function requestIdReused(requestId: string, jobId: string): ProvenanceError {
  return new ProvenanceError('ALREADY_EXISTS', `request_id ${requestId} was already used for a different request (it created job ${jobId})`, 'REQUEST_ID_REUSED', {
    resource: jobResource(jobId),
  });
}

function concurrentWrite(): ProvenanceError {
  return new ProvenanceError('ABORTED', 'the job was written concurrently by another request; retry', 'CONCURRENT_WRITE');
}
