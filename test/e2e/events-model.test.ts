import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { JobStatus, StartPosition, type DeepPartial, type ProvenanceEvent, type WatchEventsRequest } from '@provenance/client';
import { sleep, until } from '../support/waits.js';
import { sqliteLane, type StoreLane } from '../support/execution.js';
import { connect, type Client } from '../support/grpc-client.js';
import { connectHttp2Session, Http2Watch } from '../support/http2-watch.js';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { seededRandom, type SeededRandom } from '../support/seeded-random.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/** What RecordJob with status SUCCEEDED publishes, in this order. */
const RECORDED_EVENTS = ['job.provenance.created', 'compute.job.completed', 'job.provenance.completed'];
const TYPES = ['ingest', 'train', 'eval'];
const TEAMS = ['red', 'blue'];
const AGENTS = 8;
const WRITES = 300;
/** How long a subscriber waits for events it must get before the test fails. */
const DELIVERY_TIMEOUT_MS = 20_000;

interface WrittenJob {
  jobId: string;
  type: string;
  labels: Record<string, string>;
  parentIds: string[];
  /** performance.now() when RecordJob was sent, and when its answer came. */
  sentAt: number;
  answeredAt: number;
}

interface Filter {
  jobIds?: string[];
  lineageOf?: string;
  eventTypes?: string[];
  labels?: Record<string, string>;
}

type Start = { kind: 'now' } | { kind: 'oldest' } | { kind: 'after'; cursor: string };
type Ending = 'deadline' | 'cancel' | 'disconnect';

interface Subscription {
  agent: number;
  filter: Filter;
  start: Start;
  ending: Ending;
  calledAt: number;
  /** When its headers arrived; undefined if it ended before it was registered. */
  registeredAt?: number;
  events: ProvenanceEvent[];
  endCode?: status;
}

/**
 * The randomized check of issue #19: subscribers with random filters open,
 * end (deadline, cancel, disconnect) and resume after their last cursor
 * while writes flow. Afterwards, with the whole log read back, each one
 * must have got exactly the events of the log that match its filter
 * between its start and its last event, once and in order, starting where
 * it asked to: after its cursor, at the oldest event, or (from now) with
 * nothing committed before its call and nothing missing that was committed
 * after it was registered. A subscriber ended on purpose first waits for
 * every event it must have by then.
 */
describe('WatchEvents, randomized: subscribers come and go while writes flow', function () {
  this.timeout(120_000);
  let lane: StoreLane;
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    lane = sqliteLane();
    server = await startServer({ ...(await lane.env()), PROVENANCE_IN_PROCESS_WORKERS: 'false' });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    await lane?.dispose();
  });

  it('gives every subscriber exactly the events committed between its registration and its end that match its filter, once, in order', async () => {
    const random = seededRandom('EVENTS_MODEL_SEED', 'events model');
    const run = `m${random.seed}`;
    const written: WrittenJob[] = [];
    const byId = new Map<string, WrittenJob>();
    const subscriptions: Subscription[] = [];
    let writing = true;

    const writer = (async () => {
      try {
        for (let n = 0; n < WRITES; n++) {
          const parentIds = written.length === 0 ? [] : Array.from(new Set(Array.from({ length: random.int(0, 2) }, () => random.pick(written).jobId)));
          const job: Omit<WrittenJob, 'sentAt' | 'answeredAt'> = {
            jobId: `${run}-${n}`,
            type: random.pick(TYPES),
            labels: random.chance(0.7) ? { team: random.pick(TEAMS) } : {},
            parentIds,
          };
          const sentAt = performance.now();
          await api.recordJob({ ...job, parentJobIds: parentIds, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: `h${n}` });
          const done: WrittenJob = { ...job, sentAt, answeredAt: performance.now() };
          written.push(done);
          byId.set(done.jobId, done);
          await sleep(random.int(0, 60));
        }
      } finally {
        writing = false;
      }
    })();

    const agent = async (index: number) => {
      let resumeFrom: { filter: Filter; cursor: string } | undefined;
      while (writing) {
        const resuming = resumeFrom !== undefined && random.chance(0.6);
        const filter = resuming ? resumeFrom!.filter : randomFilter(random, written, run);
        const start: Start = resuming ? { kind: 'after', cursor: resumeFrom!.cursor } : random.chance(0.15) ? { kind: 'oldest' } : { kind: 'now' };
        const ending = random.pick(['deadline', 'cancel', 'disconnect'] as const);
        const subscription: Subscription = { agent: index, filter, start, ending, calledAt: performance.now(), events: [] };
        subscriptions.push(subscription);
        await subscribe(subscription, random.int(1, 800));
        const last = subscription.events.at(-1)?.cursor ?? (start.kind === 'after' ? start.cursor : undefined);
        resumeFrom = last === undefined ? undefined : { filter, cursor: last };
      }
    };

    const subscribe = async (subscription: Subscription, holdMs: number) => {
      const session = await connectHttp2Session(server.address);
      try {
        const watch = new Http2Watch(session, toRequest(subscription.filter, subscription.start), subscription.ending === 'deadline' ? { timeoutMs: holdMs } : {});
        // Shared, not copied: what arrives after the end was decided still counts.
        subscription.events = watch.events;
        try {
          subscription.registeredAt = await watch.registered;
        } catch {
          // Only a deadline may end a call before it is registered.
          const end = await watch.ended;
          expect(end.code, `a subscription that ended before it was registered (${JSON.stringify(subscription)})`).to.equal(status.DEADLINE_EXCEEDED);
          subscription.endCode = end.code;
          return;
        }
        if (subscription.ending === 'deadline') {
          subscription.endCode = (await watch.ended).code;
          return;
        }
        await sleep(holdMs);
        const registeredAt = subscription.registeredAt;
        // Everything answered by now and sent after the registration must arrive before this subscriber goes away.
        const owed = written
          .filter((job) => job.sentAt > registeredAt)
          .flatMap((job) => RECORDED_EVENTS.map((type) => ({ ...job, type: type, jobType: job.type })))
          .filter((event) => matchesWritten(subscription.filter, event, byId))
          .map((event) => `${event.type} ${event.jobId}`);
        const arrived = await watch.until(() => {
          const got = new Set(watch.events.map((e) => `${e.type} ${e.jobId}`));
          return owed.every((event) => got.has(event));
        }, DELIVERY_TIMEOUT_MS);
        expect(arrived, `events committed after the registration of ${describeSubscription(subscription)} never arrived`).to.equal(true);
        if (subscription.ending === 'cancel') watch.cancel();
        else session.destroy();
        await watch.ended;
      } finally {
        session.destroy();
      }
    };

    await Promise.all([writer, ...Array.from({ length: AGENTS }, (_, index) => agent(index))]);

    // The whole log, as a subscriber from the oldest event sees it.
    const session = await connectHttp2Session(server.address);
    const everything = new Http2Watch(session, { startPosition: StartPosition.START_POSITION_OLDEST });
    const expectedTotal = written.length * RECORDED_EVENTS.length;
    expect(await everything.until(() => everything.events.length >= expectedTotal, DELIVERY_TIMEOUT_MS), 'the whole log').to.equal(true);
    everything.cancel();
    session.destroy();
    const log = everything.events;
    expect(log.length).to.equal(expectedTotal);
    const position = new Map(log.map((event, index) => [event.cursor, index]));

    const registered = subscriptions.filter((s) => s.registeredAt !== undefined);
    const count = (key: (s: Subscription) => string) => {
      const counts: Record<string, number> = {};
      for (const subscription of registered) counts[key(subscription)] = (counts[key(subscription)] ?? 0) + 1;
      return JSON.stringify(counts);
    };
    console.log(
      `      ${registered.length} of ${subscriptions.length} subscriptions registered, by end ${count((s) => s.ending)}, by start ${count((s) => s.start.kind)}; ` +
        `${registered.reduce((sum, s) => sum + s.events.length, 0)} events received of ${log.length} in the log`,
    );
    expect(registered.length, 'subscriptions registered').to.be.above(AGENTS * 3);
    for (const subscription of registered) {
      const where = describeSubscription(subscription);
      const matching = log.filter((event) => matchesLogged(subscription.filter, event, log));
      const received = subscription.events;
      for (const event of received) expect(position.has(event.cursor), `${where} got an event the log does not hold: ${event.cursor}`).to.equal(true);
      const keys = received.map((e) => e.cursor);
      expect(new Set(keys).size, `${where} got an event twice`).to.equal(keys.length);

      let first: number;
      if (subscription.start.kind === 'after') {
        const after = position.get(subscription.start.cursor)!;
        first = matching.findIndex((event) => position.get(event.cursor)! > after);
      } else if (subscription.start.kind === 'oldest') first = 0;
      else {
        const registeredAt = subscription.registeredAt!;
        // Nothing committed before the call was made; everything sent after the registration (up to its last event).
        for (const event of received) {
          expect(byId.get(event.jobId)!.answeredAt > subscription.calledAt, `${where} got ${event.type} of ${event.jobId}, committed before it subscribed`).to.equal(true);
        }
        const lastIndex = received.length === 0 ? -1 : position.get(received.at(-1)!.cursor)!;
        const owed = matching.filter((event) => byId.get(event.jobId)!.sentAt > registeredAt && position.get(event.cursor)! <= lastIndex);
        const got = new Set(keys);
        for (const event of owed) expect(got.has(event.cursor), `${where} missed ${event.type} of ${event.jobId}, committed after it was registered`).to.equal(true);
        first = received.length === 0 ? matching.length : matching.findIndex((event) => event.cursor === received[0]!.cursor);
      }
      if (first === -1) first = matching.length;
      // What it got is the stretch of the matching events from where it started, with no gap.
      expect(keys, `${where}: not exactly the matching events from its start`).to.deep.equal(matching.slice(first, first + received.length).map((e) => e.cursor));
      if (subscription.ending === 'deadline') expect(subscription.endCode, `${where} ended`).to.equal(status.DEADLINE_EXCEEDED);
    }
    await until(async () => total(await scrapeMetrics(server.httpAddress), 'provenance_event_subscribers') === 0, 'every subscription to be released', 20_000);
  });
});

function randomFilter(random: SeededRandom, written: readonly WrittenJob[], run: string): Filter {
  const filter: Filter = {};
  const conditions = random.int(0, 2);
  for (let i = 0; i < conditions; i++) {
    const kind = random.pick(['jobIds', 'lineageOf', 'eventTypes', 'labels'] as const);
    if (kind === 'jobIds') {
      // Jobs written already or still to come (client-chosen ids are known in advance).
      const next = written.length;
      filter.jobIds = Array.from({ length: random.int(1, 4) }, () => `${run}-${random.int(Math.max(0, next - 10), next + 30)}`);
    } else if (kind === 'lineageOf' && written.length > 0) filter.lineageOf = random.pick(written.slice(-20)).jobId;
    else if (kind === 'eventTypes') filter.eventTypes = RECORDED_EVENTS.filter(() => random.chance(0.5)).slice(0, 2);
    else if (kind === 'labels') filter.labels = { team: random.pick(TEAMS) };
  }
  if (filter.eventTypes?.length === 0) delete filter.eventTypes;
  return filter;
}

function toRequest(filter: Filter, start: Start): DeepPartial<WatchEventsRequest> {
  return {
    ...filter,
    ...(start.kind === 'after' ? { afterCursor: start.cursor } : {}),
    ...(start.kind === 'oldest' ? { startPosition: StartPosition.START_POSITION_OLDEST } : {}),
  };
}

/** The filter on what the test itself wrote (an event it expects). */
function matchesWritten(filter: Filter, event: { jobId: string; type: string; labels: Record<string, string> }, jobs: ReadonlyMap<string, WrittenJob>): boolean {
  if (filter.lineageOf && !descendsFrom(event.jobId, filter.lineageOf, (id) => jobs.get(id)?.parentIds ?? [])) return false;
  return matchesPlain(filter, event);
}

/** The filter on an event of the log; lineage by the parents the log's events name. */
function matchesLogged(filter: Filter, event: ProvenanceEvent, log: readonly ProvenanceEvent[]): boolean {
  if (filter.lineageOf && !descendsFrom(event.jobId, filter.lineageOf, (id) => log.find((e) => e.jobId === id)?.parentJobIds ?? [])) return false;
  return matchesPlain(filter, event);
}

function matchesPlain(filter: Filter, event: { jobId: string; type: string; labels: Record<string, string> }): boolean {
  if (filter.jobIds && !filter.jobIds.includes(event.jobId)) return false;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (filter.labels && Object.entries(filter.labels).some(([key, value]) => event.labels[key] !== value)) return false;
  return true;
}

/** Whether the job is the root or downstream of it. */
function descendsFrom(jobId: string, root: string, parentsOf: (jobId: string) => readonly string[]): boolean {
  const seen = new Set<string>();
  for (const pending = [jobId]; pending.length > 0; ) {
    const id = pending.pop()!;
    if (id === root) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    pending.push(...parentsOf(id));
  }
  return false;
}

function describeSubscription(subscription: Subscription): string {
  const { agent, filter, start, ending } = subscription;
  return `subscriber ${agent} (filter ${JSON.stringify(filter)}, start ${JSON.stringify(start)}, ended by ${ending})`;
}
