import { expect } from 'chai';
import { harnessResources } from './resources.js';
import { ProvenanceError } from '../../src/domain/errors.js';
import type { AuditEntry, AuditLog, AuditQuery, StoredAuditEntry } from '../../src/domain/ports/audit-log.js';
import { mulberry32, nextJobId } from '../support/job-records.js';

/**
 * The one suite every AuditLog adapter must pass. Each adapter has a runner
 * (*-audit-log.test.ts) that builds a harness and calls runAuditLogConformance.
 */

export type ClosableAuditLog = AuditLog & { close(): Promise<void> };

export interface AuditLogHarness {
  name: string;
  /** A new, empty audit log. */
  create(): Promise<ClosableAuditLog>;
  /** A log whose database can be taken away, and the function that takes it away (afterwards every call must reject with ProvenanceError code UNAVAILABLE). */
  createBreakable(): Promise<{ log: ClosableAuditLog; breakDatabase(): Promise<void> }>;
  /** Releases whatever the harness holds (called once, after all tests). */
  dispose(): Promise<void>;
}

type Selection = Omit<AuditQuery, 'limit' | 'after'>;

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0, 0);
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
let calls = 0;

/** An entry told apart from every other by its method, so that a wrong order cannot go unseen. */
function entry(fields: Partial<AuditEntry> & { tenant: string }): AuditEntry {
  return {
    subject: 'alice',
    method: `/provenance.v1.ProvenanceService/Call${++calls}`,
    jobIds: [],
    time: at(0),
    outcome: 'OK',
    ...fields,
  };
}

/** Registers the suite. It closes the logs it was given, then calls harness.dispose() once, after all its tests. */
export function runAuditLogConformance(harness: AuditLogHarness): void {
  describe(`AuditLog conformance: ${harness.name}`, function () {
    const { open: openLog, use: useLog, adopt } = harnessResources(harness);

    describe('round trip', function () {
      const log = useLog();

      it('keeps every field, times to the millisecond, and job lists as given: empty, one, unordered, 1000', async () => {
        const tenant = nextJobId('tenant');
        const manyJobIds = Array.from({ length: 1000 }, (_, i) => `job-${i}-${'x'.repeat(i % 40)}`);
        const entries = [
          entry({ tenant, jobIds: [], time: at(1), outcome: 'UNAUTHENTICATED' }),
          entry({ tenant, jobIds: ['only-one'], time: new Date('1999-12-31T23:59:59.999Z') }),
          entry({ tenant, jobIds: ['b', 'a', 'c'], time: at(999), subject: 'Zoë 🚀 "quoted" \\ ', outcome: 'NOT_FOUND' }),
          entry({ tenant, jobIds: manyJobIds, time: new Date('2199-07-04T01:02:03.456Z'), subject: 'svc:batch' }),
        ];
        await appendAll(log(), entries);
        const stored = await listAll(log(), { tenant });
        expect(withoutIds(stored)).to.deep.equal(expectedList(entries, { tenant }));
        for (const item of stored) {
          expect(item.id).to.be.a('string').that.is.not.empty;
          expect(item.time).to.be.instanceOf(Date);
        }
      });

      it('gives each entry an id of its own', async () => {
        const tenant = nextJobId('tenant');
        // Same time for all: nothing but the id tells them apart in the order.
        await appendAll(log(), Array.from({ length: 50 }, () => entry({ tenant, time: at(5) })));
        const ids = (await listAll(log(), { tenant })).map((item) => item.id);
        expect(ids).to.have.length(50);
        expect(new Set(ids).size).to.equal(50);
      });

      it('keeps a job named twice in one entry, and lists that entry once for the job', async () => {
        const tenant = nextJobId('tenant');
        const twice = entry({ tenant, jobIds: ['repeated', 'other', 'repeated'] });
        await log().append(twice);
        expect(withoutIds(await listAll(log(), { tenant }))).to.deep.equal([twice]);
        expect(withoutIds(await listAll(log(), { tenant, jobId: 'repeated' }))).to.deep.equal([twice]);
      });
    });

    describe("entries in another tenant's trail", function () {
      const log = useLog();

      it("keeps the caller's tenant of an entry written into another tenant's trail, and lists it in that trail only", async () => {
        const [owner, caller] = [nextJobId('tenant'), nextJobId('tenant')];
        const own = entry({ tenant: caller, subject: 'bob', jobIds: ['shared', 'mine'], time: at(10) });
        const copy = entry({ tenant: owner, callerTenant: caller, subject: '', jobIds: ['shared'], time: at(10) });
        const ownersOwn = entry({ tenant: owner, jobIds: ['shared'], time: at(5) });
        await appendAll(log(), [own, copy, ownersOwn]);
        expect(withoutIds(await listAll(log(), { tenant: owner }))).to.deep.equal([copy, ownersOwn]);
        expect(withoutIds(await listAll(log(), { tenant: owner, jobId: 'shared' }))).to.deep.equal([copy, ownersOwn]);
        expect(withoutIds(await listAll(log(), { tenant: caller }))).to.deep.equal([own]);
        expect(await listAll(log(), { tenant: caller, jobId: 'shared' })).to.have.length(1);
        expect(withoutIds(await listAll(log(), { tenant: owner, subject: '' }))).to.deep.equal([copy]);
      });
    });

    describe('order', function () {
      const log = useLog();

      it('lists newest first, whatever order the entries were appended in', async () => {
        const tenant = nextJobId('tenant');
        const offsets = shuffled(Array.from({ length: 40 }, (_, i) => i * 1000 + (i % 7)), 11);
        const entries = offsets.map((offset) => entry({ tenant, time: at(offset) }));
        await appendAll(log(), entries);
        const listed = withoutIds(await listAll(log(), { tenant }));
        expect(listed.map((item) => item.time.getTime())).to.deep.equal([...offsets].sort((a, b) => b - a).map((offset) => T0 + offset));
        expect(listed).to.deep.equal(expectedList(entries, { tenant }));
      });

      it('lists entries of the same time last appended first: ids increase in append order', async () => {
        const tenant = nextJobId('tenant');
        // Two interleaved times, so that the id order is checked within each, not just overall.
        const entries = Array.from({ length: 30 }, (_, i) => entry({ tenant, time: at(i % 2 === 0 ? 7000 : 3000) }));
        await appendAll(log(), entries);
        const expected = [...entries.filter((_, i) => i % 2 === 0).reverse(), ...entries.filter((_, i) => i % 2 === 1).reverse()];
        expect(withoutIds(await listAll(log(), { tenant }))).to.deep.equal(expected);
      });
    });

    describe('tenant scoping', function () {
      const log = useLog();

      it("lists a tenant's entries only, under every filter, and nothing for a tenant without any", async () => {
        const [mine, theirs, empty] = [nextJobId('tenant'), nextJobId('tenant'), nextJobId('tenant')];
        // Both tenants have the same subject, job and time, appended in turns.
        const entries = [0, 1, 2, 3].flatMap((i) => [
          entry({ tenant: mine, subject: 'shared', jobIds: ['shared-job'], time: at(i * 1000) }),
          entry({ tenant: theirs, subject: 'shared', jobIds: ['shared-job'], time: at(i * 1000) }),
        ]);
        await appendAll(log(), entries);
        const selections: Omit<Selection, 'tenant'>[] = [{}, { subject: 'shared' }, { jobId: 'shared-job' }, { time: { gte: at(1000), lte: at(2000) } }];
        for (const selection of selections) {
          for (const tenant of [mine, theirs]) {
            const listed = await listAll(log(), { tenant, ...selection });
            expect(listed.every((item) => item.tenant === tenant), JSON.stringify(selection)).to.equal(true);
            expect(withoutIds(listed), JSON.stringify(selection)).to.deep.equal(expectedList(entries, { tenant, ...selection }));
          }
          expect(await listAll(log(), { tenant: empty, ...selection })).to.deep.equal([]);
        }
      });
    });

    describe('filters', function () {
      const log = useLog();
      const tenant = nextJobId('tenant');
      const otherTenant = nextJobId('tenant');
      const j1 = nextJobId('job');
      const j2 = nextJobId('job');
      // j1 is a prefix of j10: a filter that matched parts of ids would take one for the other.
      const j10 = `${j1}0`;
      const t = [0, 1000, 2000, 3000, 4000].map(at);
      // Two entries at each time but the last, so that every time bound has entries right on it.
      const rows: [string, string[], Date][] = [
        ['alice', [j1], t[0]!],
        ['bob', [j1, j2], t[0]!],
        ['alice', [], t[1]!],
        ['alice', [j10], t[1]!],
        ['bob', [j2], t[2]!],
        ['alice', [j2, j1], t[2]!],
        ['bob', [], t[3]!],
        ['alice', [j1], t[3]!],
        ['alice', [j10, j2], t[4]!],
      ];
      // The other tenant's copy of each entry is appended right after it.
      const entries = rows.flatMap(([subject, jobIds, time]) => [
        entry({ tenant, subject, jobIds, time }),
        entry({ tenant: otherTenant, subject, jobIds, time }),
      ]);

      before(async () => {
        await appendAll(log(), entries);
      });

      /** Checks the log's answer against the model, and the model against the count the data was made for. */
      async function expectSelected(selection: Omit<Selection, 'tenant'>, count: number): Promise<void> {
        const query = { tenant, ...selection };
        const expected = expectedList(entries, query);
        expect(expected, 'the test data').to.have.length(count);
        expect(withoutIds(await listAll(log(), query))).to.deep.equal(expected);
      }

      it('by subject', async () => {
        await expectSelected({ subject: 'alice' }, 6);
        await expectSelected({ subject: 'bob' }, 3);
        await expectSelected({ subject: 'ali' }, 0);
      });

      it('by job: the entries whose job list holds it, and no others', async () => {
        await expectSelected({ jobId: j1 }, 4);
        await expectSelected({ jobId: j10 }, 2);
        await expectSelected({ jobId: j2 }, 4);
        await expectSelected({ jobId: nextJobId('job') }, 0);
      });

      it('by time: each bound alone, exclusive or inclusive right on entries', async () => {
        await expectSelected({ time: { gt: t[2]! } }, 3);
        await expectSelected({ time: { gte: t[2]! } }, 5);
        await expectSelected({ time: { lt: t[2]! } }, 4);
        await expectSelected({ time: { lte: t[2]! } }, 6);
      });

      it('by time: both ends, and one instant', async () => {
        await expectSelected({ time: { gt: t[0]!, lt: t[4]! } }, 6);
        await expectSelected({ time: { gte: t[1]!, lte: t[1]! } }, 2);
        await expectSelected({ time: { gte: new Date(t[1]!.getTime() + 1), lte: new Date(t[2]!.getTime() - 1) } }, 0);
      });

      it('combined', async () => {
        await expectSelected({ subject: 'alice', jobId: j1 }, 3);
        await expectSelected({ subject: 'alice', jobId: j1, time: { gte: t[1]!, lt: t[4]! } }, 2);
        await expectSelected({ subject: 'bob', jobId: j2, time: { gt: t[0]! } }, 1);
        await expectSelected({ subject: 'bob', jobId: j10 }, 0);
      });
    });

    describe('paging', function () {
      const log = useLog();
      const tenant = nextJobId('tenant');
      const subjects = ['alice', 'bob'];
      // 23 entries, mostly four to a time and appended out of time order: pages end inside groups of equal times.
      const entries = shuffled(Array.from({ length: 23 }, (_, i) => i), 5).map((i) =>
        entry({ tenant, subject: subjects[i % 2]!, jobIds: i % 3 === 0 ? ['paged-job'] : [], time: at(Math.floor(i / 4) * 1000) }),
      );

      before(async () => {
        await appendAll(log(), entries);
      });

      it('walks every entry exactly once, in order, with any page size', async () => {
        const everything = await listAll(log(), { tenant });
        expect(withoutIds(everything)).to.deep.equal(expectedList(entries, { tenant }));
        for (const pageSize of [1, 3, 4, 5, 22, 23, 24]) {
          expect(await walk(log(), { tenant }, pageSize), `page size ${pageSize}`).to.deep.equal(everything);
        }
      });

      it('walks a filtered list the same way', async () => {
        const selections: Selection[] = [
          { tenant, subject: 'bob' },
          { tenant, jobId: 'paged-job' },
          { tenant, time: { gte: at(1000), lt: at(5000) } },
          { tenant, subject: 'alice', jobId: 'paged-job', time: { gt: at(0) } },
        ];
        for (const selection of selections) {
          const everything = await listAll(log(), selection);
          expect(withoutIds(everything), JSON.stringify(selection)).to.deep.equal(expectedList(entries, selection));
          expect(everything.length, JSON.stringify(selection)).to.be.greaterThan(2);
          expect(await walk(log(), selection, 2), JSON.stringify(selection)).to.deep.equal(everything);
        }
      });

      it('continues after a position between times, whatever id it names', async () => {
        const everything = await listAll(log(), { tenant });
        const anyId = everything[0]!.id;
        const after = { time: at(2500), id: anyId };
        const expected = everything.filter((item) => item.time.getTime() < T0 + 2500);
        expect(expected.length).to.be.within(1, everything.length - 1);
        expect(await log().list({ tenant, limit: 100, after })).to.deep.equal(expected);
      });

      it('orders ids as the store made them, also across ids of different lengths', async () => {
        // A fresh log starts its ids from the beginning: twelve entries at one time cross any first power of ten.
        const fresh = await openLog();
        const sameTime = Array.from({ length: 12 }, () => entry({ tenant, time: at(0) }));
        await appendAll(fresh, sameTime);
        const everything = await listAll(fresh, { tenant });
        expect(withoutIds(everything)).to.deep.equal([...sameTime].reverse());
        expect(await walk(fresh, { tenant }, 1)).to.deep.equal(everything);
      });
    });

    describe('limit', function () {
      const log = useLog();

      it('returns at most limit entries, the newest ones', async () => {
        const tenant = nextJobId('tenant');
        const entries = Array.from({ length: 10 }, (_, i) => entry({ tenant, time: at(i * 10) }));
        await appendAll(log(), entries);
        const expected = expectedList(entries, { tenant });
        for (const limit of [1, 3, 9, 10, 11, 1000]) {
          expect(withoutIds(await log().list({ tenant, limit })), `limit ${limit}`).to.deep.equal(expected.slice(0, limit));
        }
      });
    });

    describe('unavailable database', function () {
      it('append and list reject UNAVAILABLE once the database is gone', async () => {
        const { log, breakDatabase } = await harness.createBreakable();
        adopt(log);
        const tenant = nextJobId('tenant');
        const first = entry({ tenant });
        await log.append(first);
        expect(withoutIds(await log.list({ tenant, limit: 10 }))).to.deep.equal([first]);
        await breakDatabase();
        await expectUnavailable(log.append(entry({ tenant })));
        await expectUnavailable(log.list({ tenant, limit: 10 }));
      });
    });

    describe('close', function () {
      it('can be called twice', async () => {
        const log = await harness.create();
        await log.close();
        await log.close();
      });
    });
  });
}

async function appendAll(log: AuditLog, entries: readonly AuditEntry[]): Promise<void> {
  // One after another: the order of appending is part of what is checked.
  for (const item of entries) await log.append(item);
}

function listAll(log: AuditLog, selection: Selection): Promise<StoredAuditEntry[]> {
  return log.list({ ...selection, limit: 10_000 });
}

/**
 * Every page from the first until an empty one, each after the last entry of
 * the one before; stops with a failure once it has taken more entries than
 * there are, since a log that repeats entries would make it go on forever.
 */
async function walk(log: AuditLog, selection: Selection, pageSize: number): Promise<StoredAuditEntry[]> {
  const total = (await listAll(log, selection)).length;
  const walked: StoredAuditEntry[] = [];
  let after: AuditQuery['after'];
  for (;;) {
    const page = await log.list({ ...selection, limit: pageSize, after });
    expect(page.length).to.be.at.most(pageSize);
    if (page.length === 0) return walked;
    walked.push(...page);
    expect(walked.length, 'entries walked').to.be.at.most(total);
    const last = page.at(-1)!;
    after = { time: last.time, id: last.id };
  }
}

function withoutIds(entries: readonly StoredAuditEntry[]): AuditEntry[] {
  return entries.map(({ id: _id, ...rest }) => rest);
}

/** What list must answer, from the entries in the order they were appended. */
function expectedList(appended: readonly AuditEntry[], selection: Selection): AuditEntry[] {
  const { gt, gte, lt, lte } = selection.time ?? {};
  return appended
    .map((item, order) => ({ item, order, ms: item.time.getTime() }))
    .filter(
      ({ item, ms }) =>
        item.tenant === selection.tenant &&
        (selection.subject === undefined || item.subject === selection.subject) &&
        (selection.jobId === undefined || item.jobIds.includes(selection.jobId)) &&
        (gt === undefined || ms > gt.getTime()) &&
        (gte === undefined || ms >= gte.getTime()) &&
        (lt === undefined || ms < lt.getTime()) &&
        (lte === undefined || ms <= lte.getTime()),
    )
    .sort((a, b) => b.ms - a.ms || b.order - a.order)
    .map(({ item }) => item);
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ProvenanceError);
    expect((error as ProvenanceError).code).to.equal('UNAVAILABLE');
    return;
  }
  expect.fail('expected the call to reject with UNAVAILABLE');
}
