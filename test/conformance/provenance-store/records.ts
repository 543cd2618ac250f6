import { expect } from 'chai';
import { canonicalJson, compareCodeUnits, outputHash } from '../../../src/domain/hashing.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { JsonValue } from '../../../src/domain/json.js';
import { MARK_STALE_STEP } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import { freshEtag, makeJob, nextJobId } from '../../support/job-records.js';
import { insertAll, ids, sortById, byId, uniqueTenant, awkwardJson, everyFieldSet, noOptionalField, shuffled } from './helpers.js';
import type { StoreSuite } from './harness.js';

/** Records and etags: health, round trips, getJobs, getAccess, insertJobs (collisions), replaceJob(s), markStale. A part of runProvenanceStoreConformance (index.ts). */
export function describeRecords(suite: StoreSuite): void {
  const { harness, open: openStore, use: useStore } = suite;
  describe('health', function () {
    it('ping resolves on a healthy store', async () => {
      const store = await openStore();
      await store.ping();
    });

    it('close can be called twice', async () => {
      const store = await harness.create();
      await store.close();
      await store.close();
    });
  });

  describe('round trip', function () {
    const store = useStore();

    it('keeps a record with every optional field set', async () => {
      const record = everyFieldSet();
      await insertAll(store(), [record]);
      expect(await store().getJobs([record.jobId])).to.deep.equal([record]);
    });

    // Deep equality also fails on a key present with the value undefined: absent fields must stay absent.
    it('keeps a record with no optional field set and empty collections', async () => {
      const record = noOptionalField();
      expect(record).to.not.have.any.keys('result', 'error', 'startedAt', 'completedAt', 'durationMs', 'rerunOfJobId', 'requestId', 'cachePolicy');
      await insertAll(store(), [record]);
      expect(await store().getJobs([record.jobId])).to.deep.equal([record]);
    });

    it('keeps awkward JSON in payload, metadata and output', async () => {
      const record = makeJob({ payload: awkwardJson(), metadata: awkwardJson() });
      record.result = { outputHash: outputHash(awkwardJson()), output: awkwardJson(), cached: false };
      await insertAll(store(), [record]);
      const [stored] = await store().getJobs([record.jobId]);
      expect(stored).to.deep.equal(record);
    });

    it('keeps negative zero as the number zero', async () => {
      const payload = { offset: -0, list: [-0] };
      const record = makeJob({ payload });
      await insertAll(store(), [record]);
      const [stored] = await store().getJobs([record.jobId]);
      const storedPayload = stored!.payload as { offset: unknown; list: unknown[] };
      expect(storedPayload.offset).to.be.a('number').that.satisfies((n: number) => n === 0);
      expect(storedPayload.list[0]).to.be.a('number').that.satisfies((n: number) => n === 0);
      expect(canonicalJson(stored!.payload)).to.equal(canonicalJson(payload));
    });

    it('keeps an output of every JSON type, and no output at all', async () => {
      const outputs: JsonValue[] = [{ answer: 42 }, [1, 'two', null], 'plain text', 3.25, false, true, null, 0, ''];
      const withOutput = outputs.map((output) => {
        const record = makeJob();
        record.result = { outputHash: outputHash(output), output, cached: false };
        return record;
      });
      const withoutOutput = makeJob();
      withoutOutput.result = { outputHash: withoutOutput.result!.outputHash, cached: true, cachedFromJobId: withOutput[0]!.jobId };
      const records = [...withOutput, withoutOutput];
      await insertAll(store(), records);
      const stored = byId(await store().getJobs(records.map((r) => r.jobId)));
      for (const record of withOutput) {
        expect(stored.get(record.jobId)?.result, JSON.stringify(record.result!.output)).to.deep.equal(record.result);
      }
      expect(stored.get(withoutOutput.jobId)?.result).to.deep.equal(withoutOutput.result);
    });

    it('keeps dates to the millisecond', async () => {
      const record = makeJob({
        createdAt: new Date('2024-02-29T23:59:59.999Z'),
        startedAt: new Date('2024-03-01T00:00:00.001Z'),
        completedAt: new Date('2024-03-01T00:00:00.512Z'),
        updatedAt: new Date('2024-03-01T00:00:00.513Z'),
      });
      await insertAll(store(), [record]);
      const [stored] = await store().getJobs([record.jobId]);
      for (const field of ['createdAt', 'startedAt', 'completedAt', 'updatedAt'] as const) {
        expect(stored![field], field).to.be.instanceOf(Date);
        expect(stored![field]!.toISOString(), field).to.equal(record[field]!.toISOString());
      }
    });
  });

  describe('getJobs', function () {
    const store = useStore();

    it('returns only the records that exist', async () => {
      const records = [makeJob(), makeJob(), makeJob()];
      await insertAll(store(), records);
      const asked = [nextJobId('missing'), records[2]!.jobId, records[0]!.jobId, nextJobId('missing')];
      expect(sortById(await store().getJobs(asked))).to.deep.equal(sortById([records[0]!, records[2]!]));
    });

    it('returns a record once when its id is asked for twice', async () => {
      const record = makeJob();
      await insertAll(store(), [record]);
      expect(await store().getJobs([record.jobId, record.jobId])).to.deep.equal([record]);
    });

    it('returns nothing for missing ids and for an empty list', async () => {
      expect(await store().getJobs([nextJobId('missing'), nextJobId('missing')])).to.deep.equal([]);
      expect(await store().getJobs([])).to.deep.equal([]);
    });
  });

  describe('getAccess', function () {
    const store = useStore();

    it("returns the tenant and reader grants of the records that exist, each once, and nothing for missing ids", async () => {
      const shared = makeJob({ tenant: uniqueTenant(), readers: ['other/alice', 'other/bob'] });
      const own = makeJob();
      await insertAll(store(), [shared, own]);
      const asked = [nextJobId('missing'), own.jobId, shared.jobId, shared.jobId];
      expect(sortById(await store().getAccess(asked))).to.deep.equal(sortById([shared, own].map(({ jobId, tenant, readers }) => ({ jobId, tenant, readers }))));
      expect(await store().getAccess([])).to.deep.equal([]);
    });

    it('answers the same for every number of ids, one to many, duplicates and missing ones among them', async () => {
      const jobs = Array.from({ length: 12 }, () => makeJob());
      await insertAll(store(), jobs);
      const access = jobs.map(({ jobId, tenant, readers }) => ({ jobId, tenant, readers }));
      for (let count = 1; count <= jobs.length; count++) {
        const asked = [...jobs.slice(0, count).map((job) => job.jobId), jobs[0]!.jobId, nextJobId('missing')];
        expect(sortById(await store().getAccess(asked)), `${count} ids`).to.deep.equal(sortById(access.slice(0, count)));
        expect(await store().getAccess([jobs[count - 1]!.jobId]), `id ${count}`).to.deep.equal([access[count - 1]]);
      }
    });
  });

  describe('insertJobs', function () {
    const store = useStore();

    it('reports one outcome per record, in order, and writes the ones that do not collide', async () => {
      const existing = makeJob();
      await insertAll(store(), [existing]);
      const first = makeJob();
      const collision = makeJob({ jobId: existing.jobId, type: 'other.type' });
      const last = makeJob();
      const outcomes = await store().insertJobs([first, collision, last]);
      expect(outcomes).to.deep.equal([{ inserted: true }, { inserted: false, conflict: 'JOB_ID' }, { inserted: true }]);
      expect(sortById(await store().getJobs([first.jobId, existing.jobId, last.jobId]))).to.deep.equal(sortById([first, existing, last]));
    });

    it('reports JOB_ID for a record that repeats an earlier one of the same call, and keeps the earlier one', async () => {
      const earlier = makeJob();
      const repeat = makeJob({ jobId: earlier.jobId, status: 'FAILED' });
      const other = makeJob();
      const outcomes = await store().insertJobs([earlier, repeat, other]);
      expect(outcomes).to.deep.equal([{ inserted: true }, { inserted: false, conflict: 'JOB_ID' }, { inserted: true }]);
      expect(sortById(await store().getJobs([earlier.jobId, other.jobId]))).to.deep.equal(sortById([earlier, other]));
    });

    it('reports REQUEST_ID for a (tenant, request id) already used, stored or earlier in the call', async () => {
      const tenant = uniqueTenant();
      const requestId = `req-${nextJobId()}`;
      const secondRequestId = `req-${nextJobId()}`;
      const original = makeJob({ tenant, requestId });
      await insertAll(store(), [original]);
      const againStored = makeJob({ tenant, requestId });
      const fresh = makeJob({ tenant, requestId: secondRequestId });
      const againInCall = makeJob({ tenant, requestId: secondRequestId });
      const outcomes = await store().insertJobs([againStored, fresh, againInCall]);
      expect(outcomes).to.deep.equal([
        { inserted: false, conflict: 'REQUEST_ID' },
        { inserted: true },
        { inserted: false, conflict: 'REQUEST_ID' },
      ]);
      expect(sortById(await store().getJobs([original.jobId, againStored.jobId, fresh.jobId, againInCall.jobId]))).to.deep.equal(
        sortById([original, fresh]),
      );
    });

    it('accepts the same request id in another tenant, and any number of records without one', async () => {
      const requestId = `req-${nextJobId()}`;
      const tenant = uniqueTenant();
      await insertAll(store(), [makeJob({ tenant, requestId }), makeJob({ tenant }), makeJob({ tenant })]);
      const more = [makeJob({ tenant: uniqueTenant(), requestId }), makeJob({ tenant }), makeJob({ tenant }), makeJob({ tenant })];
      await insertAll(store(), more);
      expect(sortById(await store().getJobs(more.map((r) => r.jobId)))).to.deep.equal(sortById(more));
    });

    it('lets only one of two concurrent calls insert the same job id or (tenant, request id)', async () => {
      const record = makeJob();
      const sameId = makeJob({ jobId: record.jobId, status: 'FAILED' });
      const idOutcomes = (await Promise.all([store().insertJobs([record]), store().insertJobs([sameId])])).flat();
      expect(idOutcomes).to.have.deep.members([{ inserted: true }, { inserted: false, conflict: 'JOB_ID' }]);
      const winner = idOutcomes[0]!.inserted ? record : sameId;
      expect(await store().getJobs([record.jobId])).to.deep.equal([winner]);

      const tenant = uniqueTenant();
      const requestId = `req-${nextJobId()}`;
      const first = makeJob({ tenant, requestId });
      const second = makeJob({ tenant, requestId });
      const requestOutcomes = (await Promise.all([store().insertJobs([first]), store().insertJobs([second])])).flat();
      expect(requestOutcomes).to.have.deep.members([{ inserted: true }, { inserted: false, conflict: 'REQUEST_ID' }]);
      expect(await store().findByRequestIds(tenant, [requestId])).to.deep.equal([requestOutcomes[0]!.inserted ? first : second]);
    });

    it('reports JOB_ID for a record that collides on both its job id and its request id', async () => {
      const tenant = uniqueTenant();
      const original = makeJob({ tenant, requestId: `req-${nextJobId()}` });
      await insertAll(store(), [original]);
      const retry = makeJob({ jobId: original.jobId, tenant, requestId: original.requestId!, status: 'FAILED' });
      expect(await store().insertJobs([retry])).to.deep.equal([{ inserted: false, conflict: 'JOB_ID' }]);
      expect(await store().getJobs([original.jobId])).to.deep.equal([original]);
    });

    it('answers an empty call with no outcomes', async () => {
      expect(await store().insertJobs([])).to.deep.equal([]);
    });
  });

  describe('replaceJob', function () {
    const store = useStore();

    it('replaces a record whose etag matches, parents and lineage included', async () => {
      const formerParent = makeJob();
      const newParent = makeJob();
      const record = makeJob({ parentIds: [formerParent.jobId], status: 'RUNNING' });
      await insertAll(store(), [formerParent, newParent, record]);

      const replacement = makeJob({
        jobId: record.jobId,
        createdAt: record.createdAt,
        parentIds: [newParent.jobId],
        status: 'SUCCEEDED',
        labels: { team: 'research', rerun: 'yes' },
        attempt: 2,
      });
      expect(await store().replaceJob(replacement, record.etag)).to.equal(true);

      expect(await store().getJobs([record.jobId])).to.deep.equal([replacement]);
      expect(ids(await store().listChildren(formerParent.jobId, 10))).to.deep.equal([]);
      expect(ids(await store().listChildren(newParent.jobId, 10))).to.deep.equal([record.jobId]);
      expect(await store().findReferencedIds([formerParent.jobId, newParent.jobId])).to.deep.equal([newParent.jobId]);
      const ancestors = await store().lineage({ rootId: record.jobId, direction: 'ANCESTORS', projection: 'IDS' });
      expect(ancestors.map((row) => row.jobId)).to.deep.equal([newParent.jobId]);
      const formerDescendants = await store().lineage({ rootId: formerParent.jobId, direction: 'DESCENDANTS', projection: 'IDS' });
      expect(formerDescendants).to.deep.equal([]);
    });

    it('refuses a stale etag and leaves the record as it was', async () => {
      const record = makeJob({ status: 'RUNNING' });
      await insertAll(store(), [record]);
      const replacement = makeJob({ jobId: record.jobId, createdAt: record.createdAt });
      expect(await store().replaceJob(replacement, freshEtag())).to.equal(false);
      expect(await store().getJobs([record.jobId])).to.deep.equal([record]);
    });

    it('makes the former etag stale once it has replaced', async () => {
      const record = makeJob({ status: 'QUEUED' });
      await insertAll(store(), [record]);
      const running = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'RUNNING' });
      expect(await store().replaceJob(running, record.etag)).to.equal(true);
      const succeeded = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'SUCCEEDED' });
      expect(await store().replaceJob(succeeded, record.etag)).to.equal(false);
      expect(await store().getJobs([record.jobId])).to.deep.equal([running]);
      expect(await store().replaceJob(succeeded, running.etag)).to.equal(true);
      expect(await store().getJobs([record.jobId])).to.deep.equal([succeeded]);
    });

    it('lets only one of two concurrent replacements with the same etag win', async () => {
      const record = makeJob({ status: 'RUNNING' });
      await insertAll(store(), [record]);
      const succeeded = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'SUCCEEDED' });
      const failed = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'FAILED' });
      const [succeededWon, failedWon] = await Promise.all([store().replaceJob(succeeded, record.etag), store().replaceJob(failed, record.etag)]);
      expect([succeededWon, failedWon].filter(Boolean)).to.have.length(1);
      expect(await store().getJobs([record.jobId])).to.deep.equal([succeededWon ? succeeded : failed]);
    });

    it('refuses a job that does not exist, and creates nothing', async () => {
      const record = makeJob();
      expect(await store().replaceJob(record, record.etag)).to.equal(false);
      expect(await store().getJobs([record.jobId])).to.deep.equal([]);
    });

    it('keeps awkward JSON and optional fields through a replacement', async () => {
      const record = noOptionalField();
      await insertAll(store(), [record]);
      const replacement = everyFieldSet({ jobId: record.jobId, tenant: record.tenant, payload: awkwardJson(), metadata: awkwardJson() });
      expect(await store().replaceJob(replacement, record.etag)).to.equal(true);
      expect(await store().getJobs([record.jobId])).to.deep.equal([replacement]);
      const emptied = noOptionalField({ jobId: record.jobId });
      expect(await store().replaceJob(emptied, replacement.etag)).to.equal(true);
      expect(await store().getJobs([record.jobId])).to.deep.equal([emptied]);
    });
  });

  describe('replaceJobs', function () {
    const store = useStore();

    it('replaces those whose etag matches and reports each outcome in order, parents and lineage included', async () => {
      const formerParent = makeJob();
      const newParent = makeJob();
      const moved = makeJob({ parentIds: [formerParent.jobId], status: 'RUNNING' });
      const outdated = makeJob({ status: 'RUNNING' });
      const unchangedParents = makeJob({ parentIds: [formerParent.jobId], status: 'QUEUED' });
      await insertAll(store(), [formerParent, newParent, moved, outdated, unchangedParents]);

      const movedNext = makeJob({ jobId: moved.jobId, createdAt: moved.createdAt, parentIds: [newParent.jobId], attempt: 2 });
      const outdatedNext = makeJob({ jobId: outdated.jobId, createdAt: outdated.createdAt, status: 'FAILED' });
      const missing = makeJob();
      const unchangedParentsNext = makeJob({ jobId: unchangedParents.jobId, createdAt: unchangedParents.createdAt, parentIds: [formerParent.jobId], status: 'RUNNING' });
      const outcomes = await store().replaceJobs([
        { record: movedNext, expectedEtag: moved.etag },
        { record: outdatedNext, expectedEtag: freshEtag() },
        { record: missing, expectedEtag: missing.etag },
        { record: unchangedParentsNext, expectedEtag: unchangedParents.etag },
      ]);

      expect(outcomes).to.deep.equal([true, false, false, true]);
      expect(sortById(await store().getJobs([moved.jobId, outdated.jobId, missing.jobId, unchangedParents.jobId]))).to.deep.equal(
        sortById([movedNext, outdated, unchangedParentsNext]),
      );
      expect(ids(await store().listChildren(formerParent.jobId, 10))).to.deep.equal([unchangedParents.jobId]);
      expect(ids(await store().listChildren(newParent.jobId, 10))).to.deep.equal([moved.jobId]);
      const ancestors = await store().lineage({ rootId: moved.jobId, direction: 'ANCESTORS', projection: 'IDS' });
      expect(ids(ancestors)).to.deep.equal([newParent.jobId]);
    });

    it('applies replacements of one record in order, each against what the ones before left', async () => {
      const record = makeJob({ status: 'QUEUED' });
      const other = makeJob({ status: 'RUNNING' });
      await insertAll(store(), [record, other]);
      const running = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'RUNNING' });
      const succeeded = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'SUCCEEDED' });
      const otherNext = makeJob({ jobId: other.jobId, createdAt: other.createdAt });
      expect(
        await store().replaceJobs([
          { record: running, expectedEtag: record.etag },
          { record: succeeded, expectedEtag: running.etag },
          { record: otherNext, expectedEtag: freshEtag() },
        ]),
      ).to.deep.equal([true, true, false]);
      expect(sortById(await store().getJobs([record.jobId, other.jobId]))).to.deep.equal(sortById([succeeded, other]));

      const failed = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'FAILED' });
      const cancelled = makeJob({ jobId: record.jobId, createdAt: record.createdAt, status: 'CANCELLED' });
      expect(
        await store().replaceJobs([
          { record: failed, expectedEtag: succeeded.etag },
          { record: cancelled, expectedEtag: succeeded.etag },
        ]),
      ).to.deep.equal([true, false]);
      expect(await store().getJobs([record.jobId])).to.deep.equal([failed]);
    });

    it('reports every outcome when none or all apply', async () => {
      const records = [makeJob({ status: 'RUNNING' }), makeJob({ status: 'RUNNING' })];
      await insertAll(store(), records);
      const next = records.map((r) => makeJob({ jobId: r.jobId, createdAt: r.createdAt }));
      expect(await store().replaceJobs(next.map((record) => ({ record, expectedEtag: freshEtag() })))).to.deep.equal([false, false]);
      expect(sortById(await store().getJobs(ids(records)))).to.deep.equal(sortById(records));
      expect(await store().replaceJobs(next.map((record, i) => ({ record, expectedEtag: records[i]!.etag })))).to.deep.equal([true, true]);
      expect(sortById(await store().getJobs(ids(records)))).to.deep.equal(sortById(next));
    });

    it('answers an empty call with no outcomes', async () => {
      expect(await store().replaceJobs([])).to.deep.equal([]);
    });
  });

  describe('replaceJobsTogether', function () {
    const store = useStore();
    const next = (record: JobRecord, fields: Partial<JobRecord> = {}) => makeJob({ jobId: record.jobId, createdAt: record.createdAt, ...fields });

    it('replaces every record when every etag matches, parents and lineage included', async () => {
      const parent = makeJob();
      const run = makeJob({ status: 'RUNNING' });
      const earlier = makeJob();
      await insertAll(store(), [parent, run, earlier]);
      const runDone = next(run, { parentIds: [parent.jobId] });
      const earlierStale = next(earlier, { cacheState: 'STALE' });
      expect(
        await store().replaceJobsTogether([
          { record: runDone, expectedEtag: run.etag },
          { record: earlierStale, expectedEtag: earlier.etag },
        ]),
      ).to.deep.equal([true, true]);
      expect(sortById(await store().getJobs([run.jobId, earlier.jobId]))).to.deep.equal(sortById([runDone, earlierStale]));
      expect(ids(await store().listChildren(parent.jobId, 10))).to.deep.equal([run.jobId]);
    });

    it('writes nothing when the first etag no longer matches', async () => {
      const [cancelled, earlier] = [makeJob({ status: 'CANCELLED' }), makeJob()];
      await insertAll(store(), [cancelled, earlier]);
      expect(
        await store().replaceJobsTogether([
          { record: next(cancelled), expectedEtag: freshEtag() },
          { record: next(earlier), expectedEtag: earlier.etag },
        ]),
      ).to.deep.equal([false, false]);
      expect(sortById(await store().getJobs([cancelled.jobId, earlier.jobId]))).to.deep.equal(sortById([cancelled, earlier]));
    });

    it(
      harness.replacesOneAfterAnother
        ? 'writes the records before the first whose etag no longer matches, and none from it'
        : 'writes nothing when a later etag no longer matches',
      async () => {
        const records = [makeJob({ status: 'RUNNING' }), makeJob(), makeJob()];
        await insertAll(store(), records);
        const replacements = records.map((record) => ({ record: next(record), expectedEtag: record.etag }));
        replacements[1]!.expectedEtag = freshEtag();
        const outcomes = await store().replaceJobsTogether(replacements);
        const stored = sortById(await store().getJobs(ids(records)));
        if (harness.replacesOneAfterAnother) {
          expect(outcomes).to.deep.equal([true, false, false]);
          expect(stored).to.deep.equal(sortById([replacements[0]!.record, records[1]!, records[2]!]));
        } else {
          expect(outcomes).to.deep.equal([false, false, false]);
          expect(stored).to.deep.equal(sortById(records));
        }
      },
    );

    it('lets only one of two concurrent calls that replace the same record first win, and writes nothing of the other', async () => {
      const [shared, mine, theirs] = [makeJob({ status: 'RUNNING' }), makeJob(), makeJob()];
      await insertAll(store(), [shared, mine, theirs]);
      const call = (other: JobRecord) =>
        store().replaceJobsTogether([
          { record: next(shared), expectedEtag: shared.etag },
          { record: next(other, { cacheState: 'STALE' }), expectedEtag: other.etag },
        ]);
      const outcomes = await Promise.all([call(mine), call(theirs)]);
      expect(outcomes.map((o) => o.join())).to.have.members(['true,true', 'false,false']);
      const loser = outcomes[0]![0] ? theirs : mine;
      expect(await store().getJobs([loser.jobId])).to.deep.equal([loser]);
    });

    it('answers an empty call with no outcomes', async () => {
      expect(await store().replaceJobsTogether([])).to.deep.equal([]);
    });
  });

  describe('markStale', function () {
    const store = useStore();
    const now = new Date('2025-01-15T10:20:30.456Z');

    it('marks the SUCCEEDED records stale with one new etag and updatedAt, counts them, and touches nothing else', async () => {
      const parent = makeJob();
      const child = makeJob({ parentIds: [parent.jobId] });
      const awkward = everyFieldSet({ status: 'SUCCEEDED', cacheState: 'FRESH', error: undefined, payload: awkwardJson(), metadata: awkwardJson() });
      // Marked again: the call sets every SUCCEEDED record of the list, whatever its cache state.
      const alreadyStale = makeJob({ cacheState: 'STALE' });
      const unfinished = (['QUEUED', 'WAITING', 'RUNNING', 'FAILED', 'CANCELLED'] as const).map((status) =>
        makeJob({ status, parentIds: [parent.jobId] }),
      );
      // Not a result: its status decides, not its cache state.
      const failedButFresh = everyFieldSet({ status: 'FAILED', cacheState: 'FRESH', payload: awkwardJson() });
      const bystander = makeJob({ parentIds: [parent.jobId] });
      const records = [parent, child, awkward, alreadyStale, ...unfinished, failedButFresh, bystander];
      await insertAll(store(), shuffled(records, 31));
      const missing = nextJobId('missing');

      const asked = [child.jobId, missing, awkward.jobId, parent.jobId, child.jobId, alreadyStale.jobId, ...ids(unfinished), failedButFresh.jobId];
      const count = await store().markStale(asked, now);

      const marked = [parent, child, awkward, alreadyStale];
      expect(count).to.equal(marked.length);
      const stored = byId(await store().getJobs([...ids(records), missing]));
      expect([...stored.keys()].sort(compareCodeUnits)).to.deep.equal(ids(sortById(records)));
      const newEtag = stored.get(parent.jobId)!.etag;
      for (const record of marked) {
        expect(stored.get(record.jobId), record.jobId).to.deep.equal({ ...record, cacheState: 'STALE', etag: newEtag, updatedAt: now });
        expect(newEtag, record.jobId).to.be.a('string').and.not.equal(record.etag);
      }
      for (const record of [...unfinished, failedButFresh, bystander]) expect(stored.get(record.jobId), record.jobId).to.deep.equal(record);
      const descendants = await store().lineage({ rootId: parent.jobId, direction: 'DESCENDANTS', projection: 'SUMMARY' });
      expect(sortById(descendants).map((row) => [row.jobId, row.status, row.cacheState])).to.deep.equal(
        sortById([child, ...unfinished, bystander]).map((r) => [r.jobId, r.status, r === child ? 'STALE' : r.cacheState]),
      );
    });

    it('gives an etag that a replacement must use', async () => {
      const record = makeJob();
      await insertAll(store(), [record]);
      expect(await store().markStale([record.jobId], now)).to.equal(1);
      const [stale] = await store().getJobs([record.jobId]);
      const replacement = makeJob({ jobId: record.jobId, createdAt: record.createdAt, attempt: 2 });
      expect(await store().replaceJob(replacement, record.etag)).to.equal(false);
      expect(await store().replaceJob(replacement, stale!.etag)).to.equal(true);
      expect(await store().getJobs([record.jobId])).to.deep.equal([replacement]);
    });

    it('marks a list longer than a step of the SQLite adapter whole, with one etag, counting an id named twice once', async () => {
      const records = Array.from({ length: 2 * MARK_STALE_STEP + 1 }, () => makeJob());
      await insertAll(store(), records);
      // Named again where a later step of the list would take them.
      const asked = [...ids(records), records[0]!.jobId, records[MARK_STALE_STEP + 1]!.jobId];
      expect(await store().markStale(asked, now)).to.equal(records.length);
      const stored = await store().getJobs(ids(records));
      expect(stored.map((record) => record.cacheState)).to.deep.equal(records.map(() => 'STALE'));
      expect(new Set(stored.map((record) => record.etag)).size).to.equal(1);
    });

    it('counts nothing for missing ids and for an empty list', async () => {
      expect(await store().markStale([nextJobId('missing'), nextJobId('missing')], now)).to.equal(0);
      expect(await store().markStale([], now)).to.equal(0);
    });
  });
}
