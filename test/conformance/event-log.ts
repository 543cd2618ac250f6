import { expect } from 'chai';
import { ProvenanceError } from '../../src/domain/errors.js';
import { compareCursors, parseCursor, type LoggedEvent, type ProvenanceEvent } from '../../src/domain/job-events.js';
import type { EventLog } from '../../src/domain/ports/event-log.js';
import { rejection, sleep, until } from '../support/waits.js';

/**
 * The one suite every EventLog adapter must pass. Each adapter has a runner
 * (*.test.ts) that builds a harness and calls runEventLogConformance.
 */

/** How much of the log an adapter keeps: every adapter bounds its log by count or by age. */
export type RetentionTuning = { maxCount: number } | { maxAgeMs: number };

export interface EventLogHarness {
  name: string;
  /** A namespace no other test uses. Logs opened on one namespace are one log, as the processes of one deployment share it. */
  newNamespace(): string;
  open(namespace: string, retention: RetentionTuning): Promise<EventLog>;
  /** Deletes what the suite stored and releases what the harness holds (called once, after all tests, with every log closed). */
  dispose(): Promise<void>;
}

/**
 * Retention may be approximate: an adapter may keep up to this many events
 * beyond what its retention asks (Redis trims whole stream nodes, of at most
 * 100 entries).
 */
export const RETENTION_SLACK = 100;

const KEEP_ALL: RetentionTuning = { maxCount: 1_000_000 };
/**
 * How late "at once" may be on a busy machine: the waits these tests rule
 * out (a blocking read's own waitMs) are 10 s and more.
 */
const PROMPTLY_MS = 3000;

/** Registers the suite. It closes the logs it opened after each test, then calls harness.dispose() once, after all its tests. */
export function runEventLogConformance(harness: EventLogHarness): void {
  describe(`EventLog conformance: ${harness.name}`, function () {
    this.timeout(20_000);
    let opened: EventLog[] = [];
    async function open(namespace = harness.newNamespace(), retention: RetentionTuning = KEEP_ALL): Promise<EventLog> {
      const log = await harness.open(namespace, retention);
      opened.push(log);
      return log;
    }

    afterEach(async () => {
      const closing = opened;
      opened = [];
      await Promise.all(closing.map((log) => log.close()));
    });

    after(async () => {
      await harness.dispose();
    });

    it('starts empty: no events, bounds at 0-0; answers ping and calls an onReady listener once', async () => {
      const log = await open();
      await log.ping();
      expect(await log.read(undefined, 10)).to.deep.equal([]);
      expect(await log.read('0-0', 10)).to.deep.equal([]);
      expect(await log.bounds()).to.deep.equal({ newest: '0-0', trimmedThrough: '0-0' });
      let calls = 0;
      log.onReady(() => calls++);
      await until(() => calls === 1, 'the onReady call');
      // A call on every connection the log has: each one's readiness is known by then, and would have called again.
      await log.append([event('job-a', 1)]);
      expect(await log.readBlocking('0-0', 1, 10_000)).to.have.length(1);
      await log.ping();
      expect(calls).to.equal(1);
    });

    it('gives every event back as appended, with and without optional fields, in order, under increasing cursors', async () => {
      const log = await open();
      const first = [fullEvent('job-a', 1), event('job-b', 1), event('job-a', 2, { type: 'compute.job.started', status: 'RUNNING' })];
      const second = [event('job-c', 1), fullEvent('job-b', 2)];
      await log.append(first);
      await log.append([]);
      await log.append(second);

      const logged = await log.read(undefined, 100);
      const cursors = logged.map((e) => e.cursor);
      expect(logged).to.deep.equal([...first, ...second].map((e, i) => ({ ...e, cursor: cursors[i] })));
      for (const e of logged) expect(e.time).to.be.instanceOf(Date);
      expectIncreasing(cursors);
      expect(await log.bounds()).to.deep.equal({ oldest: cursors[0], newest: cursors.at(-1), trimmedThrough: '0-0' });
    });

    it('reads after a cursor exclusively, and pages through everything exactly once', async () => {
      const log = await open();
      const events = Array.from({ length: 25 }, (_, i) => event(`job-${i % 4}`, Math.floor(i / 4) + 1));
      await log.append(events);
      const all = await log.read(undefined, 100);
      expect(all.map(withoutCursor)).to.deep.equal(events);

      for (let i = 0; i < all.length; i++) expect(await log.read(all[i]!.cursor, 100), `after #${i}`).to.deep.equal(all.slice(i + 1));
      expect(await log.read('0-0', 100)).to.deep.equal(all);

      for (const limit of [1, 4, 25, 26]) {
        const paged: LoggedEvent[] = [];
        for (let page = await log.read(undefined, limit); page.length > 0; page = await log.read(page.at(-1)!.cursor, limit)) {
          expect(page.length).to.be.at.most(limit);
          paged.push(...page);
        }
        expect(paged, `limit ${limit}`).to.deep.equal(all);
      }
    });

    it('adds nothing for events appended before, nor for an older event of a job after a newer one', async () => {
      const log = await open();
      const batch = [event('job-a', 1), event('job-a', 2), event('job-b', 1)];
      await log.append(batch);
      await log.append(batch);
      // The repeated event inside the batch and job-a's older seq are skipped; job-c and job-b's next seq are not.
      await log.append([event('job-c', 1), event('job-c', 1), event('job-a', 1), event('job-b', 2)]);
      // A gap in a job's sequence is not a duplicate.
      await log.append([event('job-b', 5), event('job-b', 4)]);

      const seen = (await log.read(undefined, 100)).map((e) => `${e.jobId}#${e.seq}`);
      expect(seen).to.deep.equal(['job-a#1', 'job-a#2', 'job-b#1', 'job-c#1', 'job-b#2', 'job-b#5']);
    });

    it('appends the events of a job id again when they are another record\'s (a new database, a restored backup), each once', async () => {
      const log = await open();
      const before = Date.UTC(2025, 0, 1);
      const later = Date.UTC(2025, 0, 2);
      const of = (seq: number, ms: number) => event('job-r', seq, { time: new Date(ms + seq) });
      await log.append([of(1, before), of(2, before), of(3, before)]);
      // The same job id on a new, empty database: its events start at seq 1 again.
      const recreated = [of(1, later), of(2, later)];
      await log.append(recreated);
      await log.append(recreated);
      // Its store restored from a backup taken at seq 1: the next event has seq 2 again, and the one after it seq 3.
      const restored = Date.UTC(2025, 0, 3);
      await log.append([of(2, restored)]);
      await log.append([of(2, restored), of(3, restored)]);
      const seen = (await log.read(undefined, 100)).map((e) => `${e.seq}@${e.time.getTime()}`);
      expect(seen).to.deep.equal([of(1, before), of(2, before), of(3, before), ...recreated, of(2, restored), of(3, restored)].map((e) => `${e.seq}@${e.time.getTime()}`));
    });

    it('remembers what was appended across instances on the same log', async () => {
      const namespace = harness.newNamespace();
      const writer = await open(namespace);
      const other = await open(namespace);
      await writer.append([event('job-a', 1), event('job-a', 2)]);
      await other.append([event('job-a', 2), event('job-a', 3)]);
      expect((await writer.read(undefined, 100)).map((e) => e.seq)).to.deep.equal([1, 2, 3]);
    });

    it('appends a batch of thousands of events in order and once, also when part of it was appended before', async () => {
      const log = await open();
      const events: ProvenanceEvent[] = [];
      for (let seq = 1; seq <= 10; seq++) for (let job = 0; job < 250; job++) events.push(event(`job-${job}`, seq));
      await log.append(events.slice(0, 1200));
      await log.append(events);
      await log.append(events);

      const logged: LoggedEvent[] = [];
      for (let page = await log.read(undefined, 1000); page.length > 0; page = await log.read(page.at(-1)!.cursor, 1000)) logged.push(...page);
      expect(logged.map(withoutCursor)).to.deep.equal(events);
      expectIncreasing(logged.map((e) => e.cursor));
    });

    it('keeps about the newest maxCount events, and bounds name the oldest kept and the newest removed', async () => {
      const maxCount = 20;
      const log = await open(harness.newNamespace(), { maxCount });
      const cursors: string[] = [];
      for (let round = 0; round < 30; round++) {
        await log.append(Array.from({ length: 10 }, (_, i) => event(`job-${i}`, round + 1)));
        // Read right away, before later appends trim them: the cursors of everything appended.
        cursors.push(...(await log.read(cursors.at(-1), 100)).map((e) => e.cursor));
      }
      expect(cursors).to.have.length(300);

      const kept = (await log.read(undefined, 1000)).map((e) => e.cursor);
      expect(kept.length).to.be.within(maxCount, maxCount + RETENTION_SLACK);
      expectTrimmedTo(cursors, kept, await log.bounds());
      // Resuming after the newest removed event misses nothing.
      expect((await log.read((await log.bounds()).trimmedThrough, 1000)).map((e) => e.cursor)).to.deep.equal(kept);
    });

    it('drops events older than maxAgeMs as newer ones are appended', async () => {
      const maxAgeMs = 500;
      const log = await open(harness.newNamespace(), { maxAgeMs });
      const cursors: string[] = [];
      async function appendRound(round: number, count: number): Promise<void> {
        for (let start = 0; start < count; start += 10) {
          await log.append(Array.from({ length: Math.min(10, count - start) }, (_, i) => event(`job-${round}-${start + i}`, 1)));
          cursors.push(...(await log.read(cursors.at(-1), 100)).map((e) => e.cursor));
        }
      }

      await appendRound(1, 150);
      await sleep(maxAgeMs + 100);
      // Nothing is trimmed until something is appended.
      expect((await log.read(undefined, 1000)).map((e) => e.cursor)).to.deep.equal(cursors);
      await appendRound(2, 150);
      let kept = (await log.read(undefined, 1000)).map((e) => e.cursor);
      expect(kept.length).to.be.within(150, 150 + RETENTION_SLACK);
      expectTrimmedTo(cursors, kept, await log.bounds());

      await sleep(maxAgeMs + 100);
      await appendRound(3, 1);
      kept = (await log.read(undefined, 1000)).map((e) => e.cursor);
      expect(kept.length).to.be.within(1, 1 + RETENTION_SLACK);
      expectTrimmedTo(cursors, kept, await log.bounds());
    });

    describe('readBlocking', function () {
      it('returns at once the events already there', async () => {
        const log = await open();
        await log.append([event('job-a', 1), event('job-a', 2)]);
        const started = Date.now();
        const events = await log.readBlocking('0-0', 1, 10_000);
        expect(Date.now() - started).to.be.below(PROMPTLY_MS);
        expect(events).to.deep.equal(await log.read(undefined, 1));
      });

      it('returns as soon as another instance appends, and only what comes after the cursor', async () => {
        const namespace = harness.newNamespace();
        const reader = await open(namespace);
        const writer = await open(namespace);
        // Also before the log has its first event.
        let after = (await reader.bounds()).newest;
        for (const seq of [1, 2]) {
          const started = Date.now();
          const reading = reader.readBlocking(after, 10, 10_000);
          await sleep(200);
          await writer.append([event('job-a', seq)]);
          const events = await reading;
          expect(Date.now() - started).to.be.below(200 + PROMPTLY_MS);
          expect(events.map(withoutCursor)).to.deep.equal([event('job-a', seq)]);
          expect(events).to.deep.equal(await writer.read(after, 10));
          after = events[0]!.cursor;
        }
      });

      it('returns no events once waitMs has passed without any', async () => {
        const log = await open();
        await log.append([event('job-a', 1)]);
        const { newest } = await log.bounds();
        const started = Date.now();
        expect(await log.readBlocking(newest, 10, 300)).to.deep.equal([]);
        expect(Date.now() - started).to.be.within(290, 300 + PROMPTLY_MS);
      });

      it('is ended at once by close(), with no events', async () => {
        const log = await open();
        const reading = log.readBlocking('0-0', 10, 15_000);
        await sleep(100);
        const started = Date.now();
        await log.close();
        expect(await reading).to.deep.equal([]);
        expect(Date.now() - started).to.be.below(PROMPTLY_MS);
      });
    });

    it('refuses every call with UNAVAILABLE once closed; close() again does nothing', async () => {
      const log = await open();
      await log.close();
      await log.close();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['append', () => log.append([event('job-a', 1)])],
        ['read', () => log.read(undefined, 10)],
        ['readBlocking', () => log.readBlocking('0-0', 10, 1000)],
        ['bounds', () => log.bounds()],
        ['ping', () => log.ping()],
      ];
      for (const [name, call] of calls) expectUnavailable(await rejection(call()), name);
    });
  });
}

/** An event with only the required fields. */
export function event(jobId: string, seq: number, overrides: Partial<ProvenanceEvent> = {}): ProvenanceEvent {
  return {
    seq,
    type: 'job.provenance.created',
    jobId,
    jobType: 'word-count',
    status: 'QUEUED',
    definitionHash: 'd'.repeat(64),
    inputHash: 'e'.repeat(64),
    tenant: 'tenant-1',
    labels: {},
    readers: [],
    parentIds: [],
    time: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, seq)),
    ...overrides,
  };
}

/** An event with every optional field, and lists and labels that are not empty. */
export function fullEvent(jobId: string, seq: number): ProvenanceEvent {
  return event(jobId, seq, {
    type: 'cache.invalidated',
    status: 'FAILED',
    outputHash: 'f'.repeat(64),
    labels: { team: 'lineage', 'app.kubernetes.io/name': 'ingest' },
    readers: ['alice', 'bob'],
    parentIds: ['parent-1', 'parent-2'],
    rerunOfJobId: 'earlier-run',
    cachedFromJobId: 'cache-source',
    error: { reason: 'DEPENDENCY_FAILED', message: 'parent "x" failed: ünïcödé', dependencyJobId: 'parent-1' },
    invalidatedJobIds: [jobId, 'child-1', 'grandchild-1'],
    affectedCount: 3,
  });
}

export function withoutCursor({ cursor: _cursor, ...event }: LoggedEvent): ProvenanceEvent {
  return event;
}

export function expectUnavailable(error: unknown, what = 'the call'): void {
  expect(error, what).to.be.instanceOf(ProvenanceError);
  expect((error as ProvenanceError).code, what).to.equal('UNAVAILABLE');
}

function expectIncreasing(cursors: readonly string[]): void {
  for (const cursor of cursors) expect(parseCursor(cursor), cursor).to.not.equal(undefined);
  for (let i = 1; i < cursors.length; i++) expect(compareCursors(cursors[i - 1]!, cursors[i]!), `cursor #${i}`).to.equal(-1);
}

/**
 * kept is what retention left of everything appended (appended, oldest
 * first): its newest part, with something removed, and bounds that name the
 * oldest kept and the newest removed.
 */
function expectTrimmedTo(appended: readonly string[], kept: readonly string[], bounds: { oldest?: string; newest: string; trimmedThrough: string }): void {
  const removed = appended.length - kept.length;
  expect(removed, 'events removed').to.be.above(0);
  expect(kept).to.deep.equal(appended.slice(removed));
  expect(bounds).to.deep.equal({ oldest: kept[0], newest: appended.at(-1), trimmedThrough: appended[removed - 1] });
}
