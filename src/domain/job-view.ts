import { canRead, opaqueJobId, type ReadableBy } from './access.js';
import type { LoggedEvent } from './job-events.js';
import { REASONS, dependencyFailureMessage } from './execution.js';
import type { JobError, JobRecord } from './job.js';
import { utf8StringAt } from './utf8-strings.js';
import { LINEAGE_STEP_SIZE, restrictedNode, type ColumnarLineage, type Lineage, type LineageNode, type LineageRow } from './lineage.js';
import type { Principal } from './principal.js';
import type { ShownTo } from './shown-order.js';

/**
 * What one caller may see of records, events and lineages: the only place
 * that decides how the ids of other jobs they hold are shown
 * (docs/access-model.md, "Hidden ids inside readable records"). A job the
 * caller may not read is shown under its placeholder wherever a record it
 * may read names it: parents, the job a cached result came from, the
 * dependency that failed it (and that error's message), the job it reruns;
 * an id no job has is shown as it is (a dangling reference, named by whoever
 * recorded it). The transport maps JobView and EventView only, which
 * nothing but this module makes, so a read path that forgets the view does
 * not compile.
 */

/** The access of each job id an answer names: its job's tenant and grants, or undefined when no job has that id. */
export type KnownJobs = ReadonlyMap<string, ReadableBy | undefined>;

declare const seen: unique symbol;
/** A record as one caller may see it. */
export type JobView = JobRecord & { readonly [seen]: 'job' };
/** An event as one caller may see it. */
export type EventView = LoggedEvent & { readonly [seen]: 'event' };

/** The ids of other jobs a record names. */
export function referencedJobIds(record: JobRecord): string[] {
  return namedIds(record.parentIds, record.result?.cachedFromJobId, record.error, record.rerunOfJobId);
}

/** The ids of other jobs an event names (its invalidated jobs are only counted in what a caller is sent). */
export function eventReferencedJobIds(event: LoggedEvent): string[] {
  return namedIds(event.parentIds, event.cachedFromJobId, event.error, event.rerunOfJobId);
}

function namedIds(parentIds: readonly string[], cachedFromJobId: string | undefined, error: JobError | undefined, rerunOfJobId: string | undefined): string[] {
  const ids = [...parentIds];
  if (cachedFromJobId) ids.push(cachedFromJobId);
  if (error?.dependencyJobId) ids.push(error.dependencyJobId);
  if (rerunOfJobId) ids.push(rerunOfJobId);
  return ids;
}

/**
 * Whether a map of accesses holds a job that callers of a tenant and subject
 * may not read (events(): asked once per map and caller, not per event): by
 * map, then by tenant and subject. The maps are the answers of the event
 * access cache, each shared by the events of one read and every subscriber
 * they go to, and never changed once answered.
 */
const hidesSomething = new WeakMap<KnownJobs, Map<string, boolean>>();

export class JobViewer {
  /** The caller's tenant and subject as one key (hidesSomething). */
  private readonly callerKey: string;

  constructor(
    private readonly principal: Pick<Principal, 'tenant' | 'subject'>,
    /** The deployment's secret, which keys the placeholders. */
    private readonly key: Buffer,
  ) {
    this.callerKey = `${principal.tenant}\u0000${principal.subject}`;
  }

  /** The viewer a ShownTo describes (a store's thread orders a lineage with it). */
  static of(shownTo: ShownTo): JobViewer {
    return new JobViewer(shownTo.reader, Buffer.from(shownTo.placeholderKey));
  }

  /** What orders a lineage as this caller is shown it, for a store (shown-order.ts). */
  get shownTo(): ShownTo {
    return { reader: { tenant: this.principal.tenant, subject: this.principal.subject }, placeholderKey: this.key };
  }

  mayRead(job: ReadableBy): boolean {
    return canRead(this.principal, job);
  }

  /** The opaque id a job the caller may not read is shown under. */
  placeholder(jobId: string): string {
    return opaqueJobId(jobId, this.key);
  }

  /** An id as the caller is shown it: its placeholder when a job the caller may not read has it, else itself. */
  shownId(jobId: string, known: KnownJobs): string {
    return this.hides(jobId, known) ? this.placeholder(jobId) : jobId;
  }

  shownIds(jobIds: readonly string[], known: KnownJobs): string[] {
    return jobIds.map((id) => this.shownId(id, known));
  }

  /** A record the caller may read, as it may see it; known must hold every id the record names. */
  job(record: JobRecord, known: KnownJobs): JobView {
    this.requireReadable(record);
    // Most records name no hidden job: they are shown as they are, without a copy.
    if (!this.namesHidden(known, record.parentIds, record.result?.cachedFromJobId, record.error?.dependencyJobId, record.rerunOfJobId)) return record as JobView;
    const hidden = this.hiddenAmong(referencedJobIds(record), known);
    const view = withShownIds(record, hidden);
    if (record.result?.cachedFromJobId) view.result = { ...record.result, cachedFromJobId: shown(record.result.cachedFromJobId, hidden) };
    return view as JobView;
  }

  /** An event of a job the caller may read, as it may see it; known must hold every id the event names. */
  event(event: LoggedEvent, known: KnownJobs): EventView {
    this.requireReadable(event);
    // The same object when nothing is hidden, so that its encoding is shared by every subscriber it goes to.
    if (!this.namesHidden(known, event.parentIds, event.cachedFromJobId, event.error?.dependencyJobId, event.rerunOfJobId)) return event as EventView;
    const hidden = this.hiddenAmong(eventReferencedJobIds(event), known);
    const view = withShownIds(event, hidden);
    if (event.cachedFromJobId) view.cachedFromJobId = shown(event.cachedFromJobId, hidden);
    return view as EventView;
  }

  /**
   * Events of jobs the caller may read, as it may see them; known[i] must
   * hold every id events[i] names. The events of one read share their map
   * (the event access cache's answer), and most maps hide nothing from the
   * caller: then every event of theirs is shown as it is, found by asking
   * the map once for all the callers of the same tenant and subject, rather
   * than asking for every id of every event of every subscriber.
   */
  events(events: readonly LoggedEvent[], known: readonly KnownJobs[]): EventView[] {
    const views = new Array<EventView>(events.length);
    let map: KnownJobs | undefined;
    let hidesNothing = false;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (known[i] !== map) {
        map = known[i]!;
        hidesNothing = !this.hidesSomethingIn(map);
      }
      if (hidesNothing) {
        this.requireReadable(event);
        views[i] = event as EventView;
      } else views[i] = this.event(event, map);
    }
    return views;
  }

  /** Whether the map holds a job the caller may not read. */
  private hidesSomethingIn(known: KnownJobs): boolean {
    let byCaller = hidesSomething.get(known);
    if (!byCaller) hidesSomething.set(known, (byCaller = new Map()));
    let hides = byCaller.get(this.callerKey);
    if (hides === undefined) {
      hides = false;
      for (const job of known.values()) {
        if (job !== undefined && !this.mayRead(job)) {
          hides = true;
          break;
        }
      }
      byCaller.set(this.callerKey, hides);
    }
    return hides;
  }

  /**
   * The lineage as the caller may see it: each job it may not read becomes a
   * placeholder with nothing else of the job, the edges keep the graph's
   * shape through the same placeholders, and the records of the others are
   * viewed. known must hold the rows' jobs and every id their records name.
   */
  lineage(lineage: Lineage, known: KnownJobs): Lineage<JobView> {
    const steps = this.lineageInSteps(lineage, known);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /** lineage(), pausing (yield) after every LINEAGE_STEP_SIZE nodes, so that the caller can let other work run between steps on a large lineage. */
  *lineageInSteps(lineage: Lineage, known: KnownJobs): Generator<void, Lineage<JobView>> {
    let hiddenNodeCount = 0;
    // Most lineages show every node as it is: a second array of nodes is made only once one changes.
    let nodes: Array<LineageNode<JobView>> | undefined;
    for (let index = 0; index < lineage.nodes.length; index++) {
      if (index > 0 && index % LINEAGE_STEP_SIZE === 0) yield;
      const node = lineage.nodes[index]!;
      const shown = this.node(node, known);
      if (shown.restricted) hiddenNodeCount++;
      if (shown !== node) nodes ??= (lineage.nodes as Array<LineageNode<JobView>>).slice(0, index);
      nodes?.push(shown);
    }
    const record = lineage.root.record && this.job(lineage.root.record, known);
    const root = record === lineage.root.record ? (lineage.root as LineageRow<JobView>) : { ...lineage.root, record };
    // The edges are indexes into the nodes: they go through the placeholders as they are.
    return { ...lineage, root, nodes: nodes ?? (lineage.nodes as Array<LineageNode<JobView>>), hiddenNodeCount };
  }

  /**
   * columnsInSteps: lineageInSteps for a lineage whose nodes are columns
   * (they carry no records): the jobs the caller may not read are listed
   * as restricted, with their placeholders. Who may read is asked
   * once per distinct tenant and reader list; when the caller may read every
   * node, as is usual, nothing is copied.
   */
  *columnsInSteps(lineage: ColumnarLineage): Generator<void, ColumnarLineage<JobView>> {
    const { columns } = lineage;
    const readable = columns.accesses.map((access) => this.mayRead(access));
    const seen = lineage as ColumnarLineage<JobView>;
    if (readable.every(Boolean)) return { ...seen, hiddenNodeCount: 0 };
    const restricted: number[] = [];
    const placeholders: string[] = [];
    for (let i = 0; i < columns.accessIndexes.length; i++) {
      if (i > 0 && i % LINEAGE_STEP_SIZE === 0) yield;
      if (readable[columns.accessIndexes[i]!]) continue;
      restricted.push(i);
      placeholders.push(this.placeholder(utf8StringAt(columns.jobIds, i)));
    }
    return { ...seen, columns: { ...columns, restricted, placeholders }, hiddenNodeCount: restricted.length };
  }

  /** A node as the caller may see it: the same node when nothing of it changes. */
  private node(node: LineageNode, known: KnownJobs): LineageNode<JobView> {
    if (!this.mayRead(node.row)) return restrictedNode(node, this.placeholder(node.row.jobId));
    const record = node.row.record && this.job(node.row.record, known);
    return record === node.row.record ? (node as LineageNode<JobView>) : { ...node, row: { ...node.row, record } };
  }

  /** Whether a job the caller may not read has this id; an id no job has hides nothing. */
  private hides(jobId: string, known: KnownJobs): boolean {
    const job = known.get(jobId);
    if (job === undefined) {
      if (!known.has(jobId)) throw new Error(`job ${jobId} is shown without its access having been looked up`);
      return false;
    }
    return !this.mayRead(job);
  }

  /** Whether a record or an event names a hidden job: asked of every event for every subscriber, so it allocates nothing. */
  private namesHidden(known: KnownJobs, parentIds: readonly string[], cachedFromJobId?: string, dependencyJobId?: string, rerunOfJobId?: string): boolean {
    for (const id of parentIds) if (this.hides(id, known)) return true;
    return (
      (cachedFromJobId !== undefined && cachedFromJobId !== '' && this.hides(cachedFromJobId, known)) ||
      (dependencyJobId !== undefined && dependencyJobId !== '' && this.hides(dependencyJobId, known)) ||
      (rerunOfJobId !== undefined && rerunOfJobId !== '' && this.hides(rerunOfJobId, known))
    );
  }

  /** The hidden jobs among ids, each with its placeholder. */
  private hiddenAmong(ids: readonly string[], known: KnownJobs): Map<string, string> {
    const hidden = new Map<string, string>();
    for (const id of ids) if (this.hides(id, known)) hidden.set(id, this.placeholder(id));
    return hidden;
  }

  private requireReadable(job: ReadableBy & { jobId: string }): void {
    if (!this.mayRead(job)) throw new Error(`job ${job.jobId} would be shown to a caller who may not read it`);
  }
}

function shown(jobId: string, hidden: ReadonlyMap<string, string>): string {
  return hidden.get(jobId) ?? jobId;
}

/** A copy of a record or an event with the hidden ids of the fields both have under their placeholders. */
function withShownIds<T extends { parentIds: string[]; rerunOfJobId?: string; error?: JobError }>(item: T, hidden: ReadonlyMap<string, string>): T {
  const view: T = { ...item, parentIds: item.parentIds.map((id) => shown(id, hidden)) };
  if (item.rerunOfJobId) view.rerunOfJobId = shown(item.rerunOfJobId, hidden);
  if (item.error) view.error = shownError(item.error, hidden);
  return view;
}

/**
 * The error with its hidden ids under their placeholders. The service's own
 * DEPENDENCY_FAILED message is written again without how the dependency
 * ended, which is the hidden job's to tell; in any other message (a
 * recorded error is the client's text) each hidden id is replaced where it
 * stands as an id of its own.
 */
function shownError(error: JobError, hidden: ReadonlyMap<string, string>): JobError {
  const dependency = error.dependencyJobId === undefined ? undefined : hidden.get(error.dependencyJobId);
  if (dependency && error.reason === REASONS.dependencyFailed) {
    return { reason: error.reason, message: dependencyFailureMessage(dependency, 'did not succeed'), dependencyJobId: dependency };
  }
  let message = error.message;
  for (const [id, placeholder] of hidden) message = message.replace(standaloneId(id), placeholder);
  return { ...error, message, ...(dependency ? { dependencyJobId: dependency } : {}) };
}

/** The id where it is not part of a longer id: job ids hold letters, digits and . _ : -, and may be followed by a full stop or a colon. */
function standaloneId(id: string): RegExp {
  const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9._:-])${escaped}(?![A-Za-z0-9_]|[.:-][A-Za-z0-9])`, 'g');
}
