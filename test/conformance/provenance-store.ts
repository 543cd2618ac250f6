import { expect } from 'chai';
import { harnessResources } from './resources.js';
import { ProvenanceError } from '../../src/domain/errors.js';
import { withEvents } from '../../src/domain/job-events.js';
import { canonicalJson, compareCodeUnits, outputHash, sha256Hex } from '../../src/domain/hashing.js';
import type { JobRecord, JobStatus } from '../../src/domain/job.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import type { LineageDirection, LineageRow } from '../../src/domain/lineage.js';
import type { JobFilter, ListJobsQuery, ProvenanceStore } from '../../src/domain/ports/provenance-store.js';
import { freshEtag, makeJob, mulberry32, nextJobId, randomDag } from '../support/job-records.js';
import { describeCycleRules } from './provenance-store-cycles.js';

/**
 * The one suite every ProvenanceStore adapter must pass, so that all of them
 * give the same answers. Each adapter has a runner (*.test.ts) that builds a
 * harness and calls runProvenanceStoreConformance.
 */

export interface StoreHarness {
  name: string;
  /** A new, empty store. */
  create(): Promise<ProvenanceStore>;
  /** A store whose database can be taken away, and the function that takes it away (afterwards every call must reject with ProvenanceError code UNAVAILABLE). */
  createBreakable(): Promise<{ store: ProvenanceStore; breakDatabase(): Promise<void> }>;
  /** A second connection to the database of a store create() gave, as another server process has. */
  openTwin(store: ProvenanceStore): Promise<ProvenanceStore>;
  /** Releases whatever the harness holds (called once, after all tests). */
  dispose(): Promise<void>;
}

/** Registers the suite. It closes the stores it was given, then calls harness.dispose() once, after all its tests. */
export function runProvenanceStoreConformance(harness: StoreHarness): void {
  describe(`ProvenanceStore conformance: ${harness.name}`, function () {
    const { open: openStore, use: useStore, adopt } = harnessResources(harness);

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

      it('counts nothing for missing ids and for an empty list', async () => {
        expect(await store().markStale([nextJobId('missing'), nextJobId('missing')], now)).to.equal(0);
        expect(await store().markStale([], now)).to.equal(0);
      });
    });

    describe('findReusableResult', function () {
      const store = useStore();
      const t0 = Date.UTC(2024, 8, 1, 6, 0, 0, 0);
      const at = (offsetMs: number) => new Date(t0 + offsetMs);
      let tenant: string;
      let definitionHash: string;
      let inputHash: string;
      let tag: string;
      let otherTenantResult: JobRecord;

      before(async () => {
        tenant = uniqueTenant();
        tag = nextJobId('cache');
        definitionHash = sha256Hex(`${tag}-definition`);
        inputHash = sha256Hex(`${tag}-input`);
        const key = { tenant, definitionHash, inputHash };
        const succeeded = (suffix: string, completedAt: Date, overrides: Partial<JobRecord> = {}) =>
          makeJob({ ...key, jobId: `${tag}-${suffix}`, createdAt: at(0), completedAt, ...overrides });
        otherTenantResult = succeeded('elsewhere', at(9000), { tenant: uniqueTenant() });
        await insertAll(
          store(),
          shuffled(
            [
              // Created last but completed first: completion time decides, not creation.
              succeeded('early', at(1000), { createdAt: at(8000) }),
              // Two results completed in the same millisecond: the greater job id is the newer.
              succeeded('M', at(3000)),
              succeeded('a', at(3000)),
              succeeded('stale', at(5000), { cacheState: 'STALE' }),
              makeJob({ ...key, jobId: `${tag}-failed`, status: 'FAILED', createdAt: at(0), completedAt: at(6000) }),
              makeJob({ ...key, jobId: `${tag}-running`, status: 'RUNNING', createdAt: at(0) }),
              makeJob({ ...key, jobId: `${tag}-cancelled`, status: 'CANCELLED', createdAt: at(0), completedAt: at(6500) }),
              succeeded('other-input', at(7000), { inputHash: sha256Hex(`${tag}-other-input`) }),
              succeeded('other-definition', at(7000), { definitionHash: sha256Hex(`${tag}-other-definition`) }),
              // The newest result of all, but computed from a redacted payload.
              succeeded('redacted', at(8500), { payloadRedacted: true }),
              otherTenantResult,
            ],
            5,
          ),
        );
      });

      async function found(overrides: { excludeJobId?: string; completedAfter?: Date; tenant?: string } = {}): Promise<string | undefined> {
        const result = await store().findReusableResult({ tenant, definitionHash, inputHash, excludeJobId: `${tag}-nobody`, ...overrides });
        return result?.jobId;
      }

      it('finds the newest fresh success of the tenant, definition and input, whole', async () => {
        expect(await found()).to.equal(`${tag}-a`);
        const [stored] = await store().getJobs([`${tag}-a`]);
        expect(await store().findReusableResult({ tenant, definitionHash, inputHash, excludeJobId: `${tag}-nobody` })).to.deep.equal(stored);
      });

      it('skips a result whose payload was redacted, however new', async () => {
        const [redacted] = await store().getJobs([`${tag}-redacted`]);
        expect(redacted).to.include({ status: 'SUCCEEDED', cacheState: 'FRESH', payloadRedacted: true });
        expect(await found({ completedAfter: at(8000) })).to.equal(undefined);
        expect(await found({ completedAfter: at(2999) })).to.equal(`${tag}-a`);
      });

      it('skips the excluded job', async () => {
        expect(await found({ excludeJobId: `${tag}-a` })).to.equal(`${tag}-M`);
        expect(await found({ excludeJobId: `${tag}-M` })).to.equal(`${tag}-a`);
      });

      it('keeps only results completed strictly after completedAfter', async () => {
        expect(await found({ completedAfter: at(2999) })).to.equal(`${tag}-a`);
        expect(await found({ completedAfter: at(999), excludeJobId: `${tag}-a` })).to.equal(`${tag}-M`);
        expect(await found({ completedAfter: at(3000) })).to.equal(undefined);
        expect(await found({ completedAfter: at(0) })).to.equal(`${tag}-a`);
      });

      it('finds nothing for other hashes, and only its own in another tenant', async () => {
        expect(await store().findReusableResult({ tenant, definitionHash, inputHash: sha256Hex('unknown'), excludeJobId: `${tag}-nobody` })).to.equal(undefined);
        expect(await store().findReusableResult({ tenant, definitionHash: sha256Hex('unknown'), inputHash, excludeJobId: `${tag}-nobody` })).to.equal(undefined);
        expect(await found({ tenant: otherTenantResult.tenant })).to.equal(otherTenantResult.jobId);
        expect(await found({ tenant: uniqueTenant() })).to.equal(undefined);
      });

      it('no longer finds results marked stale', async () => {
        await store().markStale([`${tag}-a`, `${tag}-M`], new Date());
        expect(await found()).to.equal(`${tag}-early`);
        await store().markStale([`${tag}-early`], new Date());
        expect(await found()).to.equal(undefined);
      });
    });

    describe('listByStatus', function () {
      const store = useStore();
      let tag: string;
      let records: JobRecord[];

      before(async () => {
        tag = nextJobId('sweep');
        const job = (suffix: string, origin: JobRecord['origin'], status: JobStatus) =>
          makeJob({ jobId: `${tag}-${suffix}`, origin, status, tenant: uniqueTenant() });
        // '-B' sorts before '-a' by code unit.
        records = [
          job('q1', 'SUBMITTED', 'QUEUED'),
          job('a', 'SUBMITTED', 'RUNNING'),
          job('B', 'SUBMITTED', 'WAITING'),
          job('r2', 'SUBMITTED', 'RUNNING'),
          job('w3', 'SUBMITTED', 'WAITING'),
          job('k', 'SUBMITTED', 'SUCCEEDED'),
          job('f', 'SUBMITTED', 'FAILED'),
          job('c', 'SUBMITTED', 'CANCELLED'),
          job('rec-r', 'RECORDED', 'RUNNING'),
          job('rec-q', 'RECORDED', 'QUEUED'),
        ];
        await insertAll(store(), shuffled(records, 3));
      });

      function expected(origin: JobRecord['origin'], statuses: readonly JobStatus[]): JobRecord[] {
        return sortById(records.filter((r) => r.origin === origin && statuses.includes(r.status)));
      }

      it('lists the records of that origin and those statuses, of every tenant, by job id', async () => {
        const live: JobStatus[] = ['QUEUED', 'WAITING', 'RUNNING'];
        const listed = await store().listByStatus({ origin: 'SUBMITTED', statuses: live, limit: 100 });
        expect(ids(listed)).to.deep.equal([`${tag}-B`, `${tag}-a`, `${tag}-q1`, `${tag}-r2`, `${tag}-w3`]);
        expect(listed).to.deep.equal(expected('SUBMITTED', live));
        expect(new Set(listed.map((r) => r.tenant)).size).to.equal(listed.length);
      });

      it('filters by each status and origin', async () => {
        expect(ids(await store().listByStatus({ origin: 'SUBMITTED', statuses: ['RUNNING'], limit: 100 }))).to.deep.equal([`${tag}-a`, `${tag}-r2`]);
        expect(ids(await store().listByStatus({ origin: 'RECORDED', statuses: ['RUNNING', 'QUEUED'], limit: 100 }))).to.deep.equal([
          `${tag}-rec-q`,
          `${tag}-rec-r`,
        ]);
        expect(ids(await store().listByStatus({ origin: 'RECORDED', statuses: ['WAITING', 'SUCCEEDED'], limit: 100 }))).to.deep.equal([]);
        expect(await store().listByStatus({ origin: 'SUBMITTED', statuses: [], limit: 100 })).to.deep.equal([]);
      });

      it('pages with limit and afterJobId', async () => {
        const statuses: JobStatus[] = ['QUEUED', 'WAITING', 'RUNNING', 'FAILED'];
        const all = ids(expected('SUBMITTED', statuses));
        expect(all).to.have.length(6);
        for (const limit of [1, 2, 4]) {
          const seen: string[] = [];
          let page = await store().listByStatus({ origin: 'SUBMITTED', statuses, limit });
          for (let pages = 0; page.length > 0; pages++) {
            expect(page.length).to.be.at.most(limit);
            expect(pages).to.be.below(10);
            seen.push(...ids(page));
            page = await store().listByStatus({ origin: 'SUBMITTED', statuses, limit, afterJobId: page[page.length - 1]!.jobId });
          }
          expect(seen, `limit ${limit}`).to.deep.equal(all);
        }
        expect(ids(await store().listByStatus({ origin: 'SUBMITTED', statuses, limit: 2, afterJobId: `${tag}-g` }))).to.deep.equal([
          `${tag}-q1`,
          `${tag}-r2`,
        ]);
      });
    });

    describe('findByRequestIds', function () {
      const store = useStore();

      it('finds the records a tenant created with those request ids, and only that tenant', async () => {
        const tenant = uniqueTenant();
        const otherTenant = uniqueTenant();
        const [first, second, third] = [`req-${nextJobId()}`, `req-${nextJobId()}`, `req-${nextJobId()}`];
        const mine = [makeJob({ tenant, requestId: first }), makeJob({ tenant, requestId: second }), makeJob({ tenant, requestId: third })];
        const theirs = makeJob({ tenant: otherTenant, requestId: first });
        await insertAll(store(), [...mine, theirs, makeJob({ tenant })]);

        const found = await store().findByRequestIds(tenant, [second, first, `req-${nextJobId('missing')}`]);
        expect(sortById(found)).to.deep.equal(sortById([mine[0]!, mine[1]!]));
        expect(await store().findByRequestIds(otherTenant, [first, second])).to.deep.equal([theirs]);
        expect(await store().findByRequestIds(uniqueTenant(), [first])).to.deep.equal([]);
        expect(await store().findByRequestIds(tenant, [])).to.deep.equal([]);
      });
    });

    describe('findReferencedIds', function () {
      const store = useStore();

      it('returns, once each, the given ids that some record names as a parent', async () => {
        const parent = makeJob();
        const unreferenced = makeJob();
        const dangling = nextJobId('ghost');
        const neverSeen = nextJobId('ghost');
        const children = [
          makeJob({ parentIds: [parent.jobId] }),
          makeJob({ parentIds: [dangling, parent.jobId] }),
          makeJob({ parentIds: [dangling] }),
        ];
        await insertAll(store(), [parent, unreferenced, ...children]);

        const found = await store().findReferencedIds([neverSeen, parent.jobId, unreferenced.jobId, dangling, children[0]!.jobId, dangling]);
        expect([...found].sort(compareCodeUnits)).to.deep.equal([parent.jobId, dangling].sort(compareCodeUnits));
        expect(await store().findReferencedIds([unreferenced.jobId, neverSeen])).to.deep.equal([]);
        expect(await store().findReferencedIds([])).to.deep.equal([]);
      });
    });

    describe('listJobs', function () {
      const store = useStore();
      const t0 = Date.UTC(2024, 4, 1, 12, 0, 0, 0);
      const at = (offsetMs: number) => new Date(t0 + offsetMs);
      const providerA = { id: 'acme-ml', model: 'embedder', version: '1.0' };
      const providerA2 = { id: 'acme-ml', model: 'embedder', version: '2.0' };
      const providerB = { id: 'openlab', model: 'summarizer', version: '1.0' };
      const providerC = { id: 'acme-ml', model: 'summarizer', version: '1.0' };
      let tenant: string;
      let grant: string;
      let records: JobRecord[];

      before(async () => {
        tenant = uniqueTenant();
        grant = uniqueGrant();
        const tag = nextJobId('list');
        const sharedPayload = { corpus: 'wiki', shard: 7 };
        // Three records share +1000 ms, where '-B' sorts before '-a' by code unit; +1001 ms tells milliseconds apart.
        records = [
          makeJob({ jobId: `${tag}-m`, tenant, createdAt: at(0), type: 'text.embed', payload: sharedPayload, provider: providerA, labels: { team: 'red', env: 'prod' } }),
          makeJob({ jobId: `${tag}-a`, tenant, createdAt: at(1000), type: 'text.embed', status: 'FAILED', provider: providerA2, labels: { team: 'red', env: 'dev' } }),
          makeJob({ jobId: `${tag}-b`, tenant, createdAt: at(1000), type: 'text.summarize', provider: providerB, labels: { team: 'blue', env: 'prod' } }),
          makeJob({ jobId: `${tag}-B`, tenant, createdAt: at(1000), type: 'text.summarize', status: 'RUNNING', provider: providerC, labels: { team: 'red' } }),
          makeJob({ jobId: `${tag}-k`, tenant, createdAt: at(1001), type: 'text.embed', payload: sharedPayload, status: 'QUEUED', provider: providerA, labels: {} }),
          makeJob({ jobId: `${tag}-c`, tenant, createdAt: at(2000), type: 'text.summarize', provider: providerB, labels: { team: 'red', env: 'prod' } }),
          makeJob({ jobId: `${tag}-z`, tenant, createdAt: at(3000), type: 'text.embed', payload: sharedPayload, provider: providerA, labels: { team: 'blue', env: 'dev' } }),
          makeJob({ jobId: `${tag}-d`, tenant, createdAt: at(3000), type: 'report.render', status: 'CANCELLED', provider: providerC, labels: { env: 'prod' } }),
          makeJob({ jobId: `${tag}-e`, tenant, createdAt: at(4000), type: 'text.summarize', status: 'FAILED', provider: providerB, labels: { team: 'red', env: 'prod' } }),
          makeJob({ jobId: `${tag}-f`, tenant, createdAt: at(5000), type: 'text.embed', status: 'WAITING', provider: providerA2, labels: { team: 'red', env: 'prod' } }),
        ];
        // Records of other tenants that match every filter below must never show, shared with someone else or not.
        const elsewhere = records.map((r, i) =>
          makeJob({ ...r, jobId: `${r.jobId}-elsewhere`, tenant: uniqueTenant(), readers: i % 2 === 0 ? [uniqueGrant()] : [] }),
        );
        await insertAll(store(), shuffled([...records, ...elsewhere], 11));
      });

      function query(filter: JobFilter, limit = 100, after?: ListJobsQuery['after']): ListJobsQuery {
        const reader = { tenant, grant };
        return after ? { reader, filter, limit, after } : { reader, filter, limit };
      }

      it('lists a tenant newest first, job id descending among equal times', async () => {
        const listed = await store().listJobs(query({}));
        expect(ids(listed)).to.deep.equal(ids(newestFirst(records)));
        expect(sortById(listed)).to.deep.equal(sortById(records));
      });

      it('returns at most limit records', async () => {
        expect(ids(await store().listJobs(query({}, 3)))).to.deep.equal(ids(newestFirst(records)).slice(0, 3));
        expect(ids(await store().listJobs(query({}, 1)))).to.deep.equal(ids(newestFirst(records)).slice(0, 1));
      });

      it('walks every record exactly once, page after page', async () => {
        for (const limit of [1, 2, 3, 4]) {
          expect(await walk(store(), query({}, limit)), `limit ${limit}`).to.deep.equal(ids(newestFirst(records)));
        }
      });

      it('walks a filtered list page after page', async () => {
        const filter: JobFilter = { labels: { team: 'red' } };
        const expected = ids(newestFirst(records.filter((r) => matches(r, filter))));
        expect(expected.length).to.be.greaterThan(3);
        expect(await walk(store(), query(filter, 2))).to.deep.equal(expected);
      });

      it('starts after a position that is not a record', async () => {
        const tieId = records[1]!.jobId; // `${tag}-a`, in the group at +1000 ms
        const after = { createdAt: at(1000), jobId: `${tieId}a` };
        const expected = newestFirst(records).filter(
          (r) => r.createdAt.getTime() < at(1000).getTime() || (r.createdAt.getTime() === at(1000).getTime() && r.jobId < after.jobId),
        );
        expect(ids(expected)).to.include(tieId);
        expect(ids(await store().listJobs(query({}, 100, after)))).to.deep.equal(ids(expected));
      });

      it('lists nothing for a tenant without records and a grant nothing is shared with', async () => {
        expect(await store().listJobs({ reader: { tenant: uniqueTenant(), grant: uniqueGrant() }, filter: {}, limit: 10 })).to.deep.equal([]);
      });

      const filters: Array<[string, () => JobFilter]> = [
        ['type', () => ({ type: 'text.summarize' })],
        ['status', () => ({ status: 'FAILED' })],
        ['providerId', () => ({ providerId: 'openlab' })],
        ['providerModel', () => ({ providerModel: 'summarizer' })],
        ['providerVersion', () => ({ providerVersion: '2.0' })],
        ['definitionHash', () => ({ definitionHash: records[0]!.definitionHash })],
        ['one label', () => ({ labels: { env: 'prod' } })],
        ['two labels', () => ({ labels: { team: 'red', env: 'prod' } })],
        ['createdAt gt', () => ({ createdAt: { gt: at(1000) } })],
        ['createdAt gte', () => ({ createdAt: { gte: at(1000) } })],
        ['createdAt lt', () => ({ createdAt: { lt: at(1000) } })],
        ['createdAt lte', () => ({ createdAt: { lte: at(1000) } })],
        ['createdAt gt and lt', () => ({ createdAt: { gt: at(1000), lt: at(3000) } })],
        ['createdAt gte and lte', () => ({ createdAt: { gte: at(1000), lte: at(3000) } })],
        ['createdAt gte and lte on one instant', () => ({ createdAt: { gte: at(1000), lte: at(1000) } })],
        ['createdAt gt and lte', () => ({ createdAt: { gt: at(1000), lte: at(2000) } })],
        ['type and status', () => ({ type: 'text.embed', status: 'SUCCEEDED' })],
        ['provider id and model', () => ({ providerId: 'acme-ml', providerModel: 'summarizer' })],
        ['provider model and version', () => ({ providerModel: 'embedder', providerVersion: '1.0' })],
        ['status, label and time range', () => ({ status: 'SUCCEEDED', labels: { env: 'prod' }, createdAt: { gte: at(1000), lt: at(4000) } })],
        ['definitionHash and time', () => ({ definitionHash: records[0]!.definitionHash, createdAt: { gt: at(0) } })],
      ];
      for (const [name, makeFilter] of filters) {
        it(`filters by ${name}`, async () => {
          const filter = makeFilter();
          const expected = newestFirst(records.filter((r) => matches(r, filter)));
          // A filter that keeps everything or nothing would prove nothing.
          expect(expected.length, 'records the filter keeps').to.be.within(1, records.length - 1);
          expect(ids(await store().listJobs(query(filter)))).to.deep.equal(ids(expected));
        });
      }

      it('filters by a label nobody has, and by a label value nobody has', async () => {
        expect(await store().listJobs(query({ labels: { owner: 'red' } }))).to.deep.equal([]);
        expect(await store().listJobs(query({ labels: { team: 'green' } }))).to.deep.equal([]);
      });
    });

    describe('listJobs for a reader: its tenant and the records shared with its grant', function () {
      const store = useStore();
      const t0 = Date.UTC(2024, 6, 1, 9, 0, 0, 0);
      const at = (offsetMs: number) => new Date(t0 + offsetMs);
      let tag: string;
      let tenant: string;
      let grant: string;
      let own: JobRecord[];
      let shared: JobRecord[];
      let visible: JobRecord[];

      before(async () => {
        tag = nextJobId('share');
        tenant = uniqueTenant();
        grant = uniqueGrant();
        const [first, second, third] = [uniqueTenant(), uniqueTenant(), uniqueTenant()];
        const job = (suffix: string, offsetMs: number, overrides: Partial<JobRecord>) =>
          makeJob({ jobId: `${tag}-${suffix}`, createdAt: at(offsetMs), labels: { team: 'red' }, ...overrides });
        // At +1000 ms both sources tie: by job id descending, 'sh-b', then 'sh-M', then 'own-m'.
        own = [
          job('own-a', 0, { tenant }),
          job('own-m', 1000, { tenant, status: 'FAILED', labels: { team: 'blue' } }),
          // Of the tenant and shared with the grant as well: listed once.
          job('own-c', 2000, { tenant, readers: [grant] }),
          job('own-q', 4000, { tenant, status: 'QUEUED' }),
          job('own-x', 6000, { tenant, labels: { team: 'blue' } }),
        ];
        shared = [
          job('sh-b', 1000, { tenant: first, readers: [grant], status: 'FAILED' }),
          job('sh-M', 1000, { tenant: second, readers: [uniqueGrant(), grant] }),
          job('sh-d', 3000, { tenant: first, readers: [grant, grant], labels: { team: 'blue' } }),
          job('sh-f', 5000, { tenant: third, readers: [grant], status: 'FAILED' }),
          job('sh-z', 7000, { tenant: second, readers: [grant], status: 'RUNNING' }),
        ];
        // Each matches every filter below, and none is shared with the grant.
        const hidden = [
          job('no-near', 6500, { tenant: first, readers: [`${grant}x`, grant.slice(1), grant.slice(grant.indexOf('/') + 1)] }),
          job('no-other', 6600, { tenant: second, readers: [uniqueGrant()] }),
          job('no-owner', 6700, { tenant: third, owner: grant.slice(grant.indexOf('/') + 1) }),
          job('no-tenant-named-so', 6800, { tenant: grant }),
          job('no-unshared', 6900, { tenant: first }),
        ];
        visible = [...own, ...shared];
        await insertAll(store(), shuffled([...own, ...shared, ...hidden], 29));
      });

      function query(filter: JobFilter, limit = 100, after?: ListJobsQuery['after']): ListJobsQuery {
        const reader = { tenant, grant };
        return after ? { reader, filter, limit, after } : { reader, filter, limit };
      }

      it('lists both, each record once and whole, newest first, job id descending among equal times', async () => {
        const listed = await store().listJobs(query({}));
        expect(ids(listed)).to.deep.equal(ids(newestFirst(visible)));
        expect(ids(listed).slice(-4)).to.deep.equal([`${tag}-sh-b`, `${tag}-sh-M`, `${tag}-own-m`, `${tag}-own-a`]);
        expect(sortById(listed)).to.deep.equal(sortById(visible));
      });

      it('walks both page after page, each record exactly once', async () => {
        for (const limit of [1, 2, 3, 4]) {
          expect(await walk(store(), query({}, limit)), `limit ${limit}`).to.deep.equal(ids(newestFirst(visible)));
        }
      });

      const filters: Array<[string, () => JobFilter]> = [
        ['status', () => ({ status: 'FAILED' })],
        ['label', () => ({ labels: { team: 'red' } })],
        ['time range', () => ({ createdAt: { gte: at(1000), lt: at(6000) } })],
        ['status and time', () => ({ status: 'SUCCEEDED', createdAt: { lte: at(3000) } })],
      ];
      for (const [name, makeFilter] of filters) {
        it(`filters both by ${name}, page after page`, async () => {
          const filter = makeFilter();
          const expected = ids(newestFirst(visible.filter((r) => matches(r, filter))));
          // The filter must keep records of both sources and drop some of each.
          for (const source of [own, shared]) {
            expect(ids(source).filter((id) => expected.includes(id)).length, 'records of a source kept').to.be.within(1, source.length - 1);
          }
          expect(ids(await store().listJobs(query(filter))), 'one page').to.deep.equal(expected);
          expect(await walk(store(), query(filter, 1)), 'pages of one').to.deep.equal(expected);
        });
      }

      it('starts after a position between records of the two sources that tie on time', async () => {
        const after = { createdAt: at(1000), jobId: `${tag}-sh-M` };
        expect(ids(await store().listJobs(query({}, 100, after)))).to.deep.equal([`${tag}-own-m`, `${tag}-own-a`]);
        const beforeTheTie = { createdAt: at(1000), jobId: `${tag}-sh-c` };
        expect(ids(await store().listJobs(query({}, 2, beforeTheTie)))).to.deep.equal([`${tag}-sh-b`, `${tag}-sh-M`]);
      });

      it('lists only the tenant for a grant nothing is shared with, and only what is shared for a reader of another tenant', async () => {
        expect(ids(await store().listJobs({ reader: { tenant, grant: uniqueGrant() }, filter: {}, limit: 100 }))).to.deep.equal(
          ids(newestFirst(own)),
        );
        const sharedWithGrant = [...shared, own.find((r) => r.jobId === `${tag}-own-c`)!];
        expect(ids(await store().listJobs({ reader: { tenant: uniqueTenant(), grant }, filter: {}, limit: 100 }))).to.deep.equal(
          ids(newestFirst(sharedWithGrant)),
        );
      });

      it('lists only the tenant for a reader no grant can name', async () => {
        expect(ids(await store().listJobs({ reader: { tenant }, filter: {}, limit: 100 }))).to.deep.equal(ids(newestFirst(own)));
        expect(await store().listJobs({ reader: { tenant: uniqueTenant() }, filter: {}, limit: 100 })).to.deep.equal([]);
      });

      it('follows the readers and creation times that replacements change, and ignores the readers of a record not inserted', async () => {
        const reader = { tenant: uniqueTenant(), grant: uniqueGrant() };
        const elsewhere = uniqueTenant();
        const unshared = makeJob({ tenant: elsewhere, readers: [reader.grant], createdAt: at(100) });
        const laterShared = makeJob({ tenant: elsewhere, createdAt: at(200) });
        const moved = makeJob({ tenant: elsewhere, readers: [reader.grant], createdAt: at(300) });
        await insertAll(store(), [unshared, laterShared, moved]);
        const colliding = makeJob({ jobId: laterShared.jobId, tenant: elsewhere, readers: [reader.grant], createdAt: at(200) });
        expect(await store().insertJobs([colliding])).to.deep.equal([{ inserted: false, conflict: 'JOB_ID' }]);
        const list = (after?: ListJobsQuery['after']) => walk(store(), after ? { reader, filter: {}, limit: 1, after } : { reader, filter: {}, limit: 1 });
        expect(await list()).to.deep.equal(ids([moved, unshared]));

        const replacements = [
          makeJob({ jobId: unshared.jobId, tenant: elsewhere, readers: [], createdAt: unshared.createdAt, attempt: 2 }),
          makeJob({ jobId: laterShared.jobId, tenant: elsewhere, readers: [uniqueGrant(), reader.grant], createdAt: laterShared.createdAt }),
          makeJob({ jobId: moved.jobId, tenant: elsewhere, readers: [reader.grant], createdAt: at(50) }),
        ];
        expect(
          await store().replaceJobs(replacements.map((record, i) => ({ record, expectedEtag: [unshared, laterShared, moved][i]!.etag }))),
        ).to.deep.equal([true, true, true]);
        expect(await list()).to.deep.equal(ids([laterShared, moved]));
        expect(await list({ createdAt: at(100), jobId: moved.jobId })).to.deep.equal(ids([moved]));
        expect(await list({ createdAt: at(50), jobId: moved.jobId })).to.deep.equal([]);
        expect(await store().listJobs({ reader, filter: { createdAt: { gt: at(250) } }, limit: 10 })).to.deep.equal([]);
      });
    });

    describe('listChildren', function () {
      const store = useStore();
      let tag: string;
      let parent: JobRecord;
      let children: JobRecord[];

      before(async () => {
        tag = nextJobId('kids');
        parent = makeJob({ jobId: `${tag}-p` });
        const stranger = makeJob({ jobId: `${tag}-s` });
        const ghost = `${tag}-ghost`;
        children = [
          makeJob({ jobId: `${tag}-c3`, parentIds: [parent.jobId] }),
          makeJob({ jobId: `${tag}-c1`, parentIds: [parent.jobId] }),
          makeJob({ jobId: `${tag}-c2`, parentIds: [stranger.jobId, parent.jobId, ghost] }),
          makeJob({ jobId: `${tag}-Z`, parentIds: [parent.jobId] }),
        ];
        const grandchild = makeJob({ jobId: `${tag}-c0`, parentIds: [children[1]!.jobId] });
        const strangersChild = makeJob({ jobId: `${tag}-c4`, parentIds: [stranger.jobId] });
        await insertAll(store(), [grandchild, ...children, parent, stranger, strangersChild]);
      });

      const ordered = () => [...children].sort((a, b) => compareCodeUnits(a.jobId, b.jobId));

      it('lists the records naming the job as a parent, by job id ascending', async () => {
        expect(ids(ordered())).to.deep.equal([`${tag}-Z`, `${tag}-c1`, `${tag}-c2`, `${tag}-c3`]);
        expect(await store().listChildren(parent.jobId, 10)).to.deep.equal(ordered());
      });

      it('pages with limit and afterJobId', async () => {
        const all = ids(ordered());
        expect(ids(await store().listChildren(parent.jobId, 2))).to.deep.equal(all.slice(0, 2));
        expect(ids(await store().listChildren(parent.jobId, 2, all[1]))).to.deep.equal(all.slice(2, 4));
        expect(ids(await store().listChildren(parent.jobId, 2, all[3]))).to.deep.equal([]);
        expect(ids(await store().listChildren(parent.jobId, 10, `${tag}-c15`))).to.deep.equal([`${tag}-c2`, `${tag}-c3`]);
      });

      it('lists the children of a job that has no record', async () => {
        expect(ids(await store().listChildren(`${tag}-ghost`, 10))).to.deep.equal([`${tag}-c2`]);
        expect(await store().listChildren(`${tag}-nobody`, 10)).to.deep.equal([]);
      });
    });

    describe('lineage', function () {
      const store = useStore();
      /*
       * The graph of `shape` below (job: its parents) holds a node with two parents (m), a diamond
       * (m, then x and y, then z), a chain (z, w, v), a parent without a record (ghost, named by w
       * and orphan) and a job without edges (lone).
       */
      let tag: string;
      const graph = new Map<string, JobRecord>();
      const id = (name: string) => `${tag}-${name}`;
      const names = (...list: string[]) => list.map(id).sort(compareCodeUnits);

      before(async () => {
        tag = nextJobId('graph');
        const shape: Array<[string, string[]]> = [
          ['r1', []],
          ['r2', []],
          ['m', ['r1', 'r2']],
          ['u', ['r1']],
          ['x', ['m']],
          ['y', ['m']],
          ['z', ['y', 'x']],
          ['w', ['z', 'ghost']],
          ['v', ['w']],
          ['orphan', ['ghost']],
          ['lone', []],
        ];
        // x and v also carry the hardest records, which FULL rows must return intact. Tenants and readers vary,
        // readers in an order that is not sorted.
        const access: Record<string, Pick<JobRecord, 'tenant' | 'readers'>> = {
          m: { tenant: uniqueTenant(), readers: ['zed@lab.test', 'amy@lab.test'] },
          z: { tenant: uniqueTenant(), readers: [] },
          w: { tenant: 'default', readers: ['bob@lab.test'] },
          r2: { tenant: uniqueTenant(), readers: ['amy@lab.test'] },
        };
        for (const [name, parents] of shape) {
          const fields = { jobId: id(name), parentIds: parents.map(id), ...access[name] };
          const record =
            name === 'x'
              ? everyFieldSet({ ...fields, payload: awkwardJson(), metadata: awkwardJson() })
              : name === 'v'
                ? noOptionalField(fields)
                : makeJob({ ...fields, status: name === 'y' ? 'FAILED' : 'SUCCEEDED' });
          graph.set(record.jobId, record);
        }
        await insertAll(store(), [...graph.values()].reverse());
      });

      async function lineageIds(root: string, direction: LineageDirection, maxDepth?: number): Promise<string[]> {
        const rows = await store().lineage({ rootId: id(root), direction, projection: 'IDS', ...(maxDepth === undefined ? {} : { maxDepth }) });
        return rows.map((row) => row.jobId).sort(compareCodeUnits);
      }

      it('finds the ancestors of a chain within each depth', async () => {
        expect(await lineageIds('v', 'ANCESTORS', 0)).to.deep.equal([]);
        expect(await lineageIds('v', 'ANCESTORS', 1)).to.deep.equal(names('w'));
        expect(await lineageIds('v', 'ANCESTORS', 2)).to.deep.equal(names('w', 'z'));
        expect(await lineageIds('v', 'ANCESTORS')).to.deep.equal(names('w', 'z', 'x', 'y', 'm', 'r1', 'r2'));
      });

      it('crosses a diamond once and follows every parent of a node', async () => {
        expect(await lineageIds('z', 'ANCESTORS', 1)).to.deep.equal(names('x', 'y'));
        expect(await lineageIds('z', 'ANCESTORS', 2)).to.deep.equal(names('x', 'y', 'm'));
        expect(await lineageIds('z', 'ANCESTORS')).to.deep.equal(names('x', 'y', 'm', 'r1', 'r2'));
        expect(await lineageIds('m', 'ANCESTORS')).to.deep.equal(names('r1', 'r2'));
        expect(await lineageIds('r1', 'ANCESTORS')).to.deep.equal([]);
      });

      it('finds the descendants within each depth', async () => {
        expect(await lineageIds('r1', 'DESCENDANTS', 0)).to.deep.equal([]);
        expect(await lineageIds('r1', 'DESCENDANTS', 1)).to.deep.equal(names('m', 'u'));
        expect(await lineageIds('r1', 'DESCENDANTS', 2)).to.deep.equal(names('m', 'u', 'x', 'y'));
        expect(await lineageIds('r1', 'DESCENDANTS')).to.deep.equal(names('m', 'u', 'x', 'y', 'z', 'w', 'v'));
        expect(await lineageIds('r2', 'DESCENDANTS', 3)).to.deep.equal(names('m', 'x', 'y', 'z'));
        expect(await lineageIds('m', 'DESCENDANTS', 2)).to.deep.equal(names('x', 'y', 'z'));
        expect(await lineageIds('v', 'DESCENDANTS')).to.deep.equal([]);
        expect(await lineageIds('lone', 'DESCENDANTS')).to.deep.equal([]);
      });

      it('leaves out a parent that has no record', async () => {
        expect(await lineageIds('w', 'ANCESTORS', 1)).to.deep.equal(names('z'));
        expect(await lineageIds('orphan', 'ANCESTORS')).to.deep.equal([]);
      });

      it('finds the descendants of a root that has no record', async () => {
        expect(await lineageIds('ghost', 'DESCENDANTS', 1)).to.deep.equal(names('w', 'orphan'));
        expect(await lineageIds('ghost', 'DESCENDANTS')).to.deep.equal(names('w', 'orphan', 'v'));
        expect(await lineageIds('nobody', 'DESCENDANTS')).to.deep.equal([]);
      });

      it('projects IDS: job id, parent ids, tenant and readers only', async () => {
        for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
          const rows = await store().lineage({ rootId: id(direction === 'ANCESTORS' ? 'v' : 'r2'), direction, projection: 'IDS' });
          expect(rows, direction).to.have.length(direction === 'ANCESTORS' ? 7 : 6);
          for (const row of rows) {
            const { jobId, parentIds, tenant, readers } = graph.get(row.jobId)!;
            expect(withoutDepth(row), row.jobId).to.deep.equal({ jobId, parentIds, tenant, readers });
          }
        }
      });

      it('projects SUMMARY: plus type, status and cache state', async () => {
        const rows = await store().lineage({ rootId: id('r2'), direction: 'DESCENDANTS', projection: 'SUMMARY' });
        expect(rows.map((row) => row.jobId).sort(compareCodeUnits)).to.deep.equal(names('m', 'x', 'y', 'z', 'w', 'v'));
        for (const row of rows) {
          const { jobId, parentIds, tenant, readers, type, status, cacheState } = graph.get(row.jobId)!;
          expect(withoutDepth(row), row.jobId).to.deep.equal({ jobId, parentIds, tenant, readers, type, status, cacheState });
        }
        expect(rows.find((row) => row.jobId === id('y'))!.status).to.equal('FAILED');
        expect(new Set(rows.map((row) => row.tenant)).size).to.equal(4);
      });

      it('projects FULL: plus the whole stored record', async () => {
        for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
          const rows = await store().lineage({ rootId: id('z'), direction, projection: 'FULL', maxDepth: 2 });
          expect(rows.map((row) => row.jobId).sort(compareCodeUnits), direction).to.deep.equal(
            direction === 'ANCESTORS' ? names('x', 'y', 'm') : names('w', 'v'),
          );
          for (const row of rows) {
            const record = graph.get(row.jobId)!;
            const { jobId, parentIds, tenant, readers, type, status, cacheState } = record;
            expect(withoutDepth(row), row.jobId).to.deep.equal({ jobId, parentIds, tenant, readers, type, status, cacheState, record });
          }
        }
      });

      it('agrees with a breadth-first search on a random graph', async function () {
        this.timeout(60_000);
        const dag = randomDag(300, 20240501, { maxParents: 3, window: 50 });
        const dagStore = await openStore();
        await insertAll(dagStore, dag);
        const parentsOf = new Map(dag.map((r) => [r.jobId, r.parentIds]));
        const childrenOf = new Map<string, string[]>();
        for (const record of dag) {
          for (const parent of record.parentIds) childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), record.jobId]);
        }
        const random = mulberry32(7);
        for (let i = 0; i < 20; i++) {
          const root = dag[Math.floor(random() * dag.length)]!.jobId;
          for (const direction of ['ANCESTORS', 'DESCENDANTS'] as const) {
            const next = direction === 'ANCESTORS' ? parentsOf : childrenOf;
            for (const maxDepth of [undefined, 1, 3]) {
              const rows = await dagStore.lineage({ rootId: root, direction, projection: 'IDS', ...(maxDepth === undefined ? {} : { maxDepth }) });
              const expected = [...reachable(root, next, maxDepth)].sort(compareCodeUnits);
              const label = `${direction} of ${root} within ${maxDepth ?? 'any'}`;
              expect(rows.map((row) => row.jobId).sort(compareCodeUnits), label).to.deep.equal(expected);
              const depths = shortestDepths(root, next);
              for (const row of rows) {
                expect(row.parentIds, label).to.deep.equal(parentsOf.get(row.jobId));
                // A store that gives depths gives the shortest one.
                if (row.depth !== undefined) expect(row.depth, `${label}: depth of ${row.jobId}`).to.equal(depths.get(row.jobId));
              }
            }
          }
        }
      });
    });

    describeCycleRules({
      open: openStore,
      async openTwin(store) {
        const twin = await harness.openTwin(store);
        adopt(twin);
        return twin;
      },
    });

    describe('pending events (the outbox)', function () {
      const store = useStore();
      const t0 = Date.UTC(2025, 2, 3, 4, 5, 6, 789);
      const at = (offsetMs: number) => new Date(t0 + offsetMs);

      /** The record with three events in its outbox, seq 1 to 3. */
      function withThreeEvents(record: JobRecord): JobRecord {
        return withEvents(record, ['compute.job.submitted', 'job.provenance.created', 'compute.job.started'], at(0));
      }

      function withoutOutbox(record: JobRecord): JobRecord {
        const { pendingEvents: _removed, ...rest } = record;
        return rest;
      }

      it('keeps the outbox and the event number through every read: event times as Dates, optional event fields as written', async () => {
        const tenant = uniqueTenant();
        const parent = withEvents(makeJob({ tenant }), ['job.provenance.created'], at(0));
        // everyFieldSet gives its events an output hash, an error and the rerun and cache sources; cache.invalidated adds the invalidated ids.
        const detailed = withEvents(
          withEvents(
            everyFieldSet({ tenant, parentIds: [parent.jobId] }),
            ['compute.job.submitted', 'compute.job.rerun', 'job.provenance.created', 'compute.job.failed'],
            at(1),
          ),
          ['cache.invalidated'],
          at(2),
          { invalidatedJobIds: [nextJobId('stale'), nextJobId('stale')] },
        );
        const bare = withEvents(noOptionalField({ tenant }), ['job.provenance.created'], at(3));
        const reusable = withEvents(
          makeJob({ tenant, parentIds: [parent.jobId], completedAt: at(4) }),
          ['compute.job.completed', 'job.provenance.completed'],
          at(4),
        );
        const records = [parent, detailed, bare, reusable];
        const optionalEventFields = ['outputHash', 'cachedFromJobId', 'rerunOfJobId', 'error', 'invalidatedJobIds'];
        expect(detailed.pendingEvents!.map((event) => event.seq)).to.deep.equal([1, 2, 3, 4, 5]);
        expect(detailed.pendingEvents![4]).to.include.all.keys(...optionalEventFields);
        expect(bare.pendingEvents![0]).to.not.have.any.keys(...optionalEventFields);
        await insertAll(store(), records);

        const [stored] = await store().getJobs([detailed.jobId]);
        for (const event of stored!.pendingEvents!) expect(event.time, `time of event ${event.seq}`).to.be.instanceOf(Date);
        expect(sortById(await store().getJobs(ids(records)))).to.deep.equal(sortById(records));
        expect(sortById(await store().listJobs({ reader: { tenant, grant: uniqueGrant() }, filter: {}, limit: 10 }))).to.deep.equal(
          sortById(records),
        );
        expect(await store().listChildren(parent.jobId, 10)).to.deep.equal(sortById([detailed, reusable]));
        expect(await store().findByRequestIds(tenant, [detailed.requestId!])).to.deep.equal([detailed]);
        expect(
          await store().findReusableResult({ tenant, definitionHash: reusable.definitionHash, inputHash: reusable.inputHash, excludeJobId: parent.jobId }),
        ).to.deep.equal(reusable);
        const failedSubmitted = await store().listByStatus({ origin: 'SUBMITTED', statuses: ['FAILED'], limit: 1000 });
        expect(failedSubmitted.filter((r) => r.jobId === detailed.jobId)).to.deep.equal([detailed]);
        const descendants = await store().lineage({ rootId: parent.jobId, direction: 'DESCENDANTS', projection: 'FULL' });
        expect(sortById(descendants).map((row) => row.record)).to.deep.equal(sortById([detailed, reusable]));
        const listed = await store().listWithPendingEvents(1000);
        expect(listed.filter((r) => r.tenant === tenant)).to.deep.equal(sortById(records));
      });

      it('keeps an event number without an outbox, and an empty outbox, and lists neither', async () => {
        const numbered: JobRecord = { ...makeJob(), eventSeq: 7 };
        const emptied: JobRecord = { ...makeJob(), eventSeq: 2, pendingEvents: [] };
        await insertAll(store(), [numbered, emptied]);
        expect(sortById(await store().getJobs(ids([numbered, emptied])))).to.deep.equal(sortById([numbered, emptied]));
        expect(ids(await store().listWithPendingEvents(1000))).to.not.include.any.members(ids([numbered, emptied]));
      });

      it('clears the events up to upToSeq, keeps the later ones in order, and changes nothing else, the etag included', async () => {
        const record = withThreeEvents(everyFieldSet({ payload: awkwardJson(), metadata: awkwardJson() }));
        await insertAll(store(), [record]);

        await store().clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 1 }]);
        expect(await store().getJobs([record.jobId])).to.deep.equal([{ ...record, pendingEvents: record.pendingEvents!.slice(1) }]);
        expect(ids(await store().listWithPendingEvents(1000))).to.include(record.jobId);

        // An emptied outbox is no longer there at all; the event number stays.
        await store().clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 3 }]);
        expect(await store().getJobs([record.jobId])).to.deep.equal([withoutOutbox(record)]);
        expect(ids(await store().listWithPendingEvents(1000))).to.not.include(record.jobId);

        // A writer holding the etag it read before the clearances still wins its compare-and-set.
        const next = makeJob({ jobId: record.jobId, createdAt: record.createdAt, attempt: 4 });
        expect(await store().replaceJob(next, record.etag)).to.equal(true);
        expect(await store().getJobs([record.jobId])).to.deep.equal([next]);
      });

      it('leaves a record whose etag changed as it is, and clears it under its new etag', async () => {
        const refused = withThreeEvents(makeJob({ status: 'RUNNING' }));
        const replaced = withThreeEvents(makeJob({ status: 'QUEUED' }));
        const staled = withThreeEvents(makeJob());
        await insertAll(store(), [refused, replaced, staled]);
        const running = makeJob({ jobId: replaced.jobId, createdAt: replaced.createdAt, status: 'RUNNING' });
        const next = withEvents({ ...running, eventSeq: replaced.eventSeq!, pendingEvents: replaced.pendingEvents! }, ['compute.job.started'], at(5));
        expect(await store().replaceJob(next, replaced.etag)).to.equal(true);
        expect(await store().markStale([staled.jobId], at(6))).to.equal(1);
        const [stale] = await store().getJobs([staled.jobId]);
        expect(stale).to.deep.equal({ ...staled, cacheState: 'STALE', etag: stale!.etag, updatedAt: at(6) });

        await store().clearPendingEvents([
          { jobId: replaced.jobId, etag: replaced.etag, upToSeq: 4 },
          { jobId: staled.jobId, etag: staled.etag, upToSeq: 3 },
          { jobId: refused.jobId, etag: freshEtag(), upToSeq: 3 },
        ]);
        expect(sortById(await store().getJobs(ids([refused, replaced, staled])))).to.deep.equal(sortById([refused, next, stale!]));

        await store().clearPendingEvents([
          { jobId: replaced.jobId, etag: next.etag, upToSeq: 2 },
          { jobId: staled.jobId, etag: stale!.etag, upToSeq: 3 },
        ]);
        expect(sortById(await store().getJobs(ids([replaced, staled])))).to.deep.equal(
          sortById([{ ...next, pendingEvents: next.pendingEvents!.slice(2) }, withoutOutbox(stale!)]),
        );
      });

      it('does nothing for missing jobs, events already cleared and records without an outbox', async () => {
        const record = withThreeEvents(makeJob());
        const noOutbox: JobRecord = { ...makeJob(), eventSeq: 3 };
        await insertAll(store(), [record, noOutbox]);
        await store().clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 2 }]);
        await store().clearPendingEvents([
          { jobId: record.jobId, etag: record.etag, upToSeq: 2 },
          { jobId: record.jobId, etag: record.etag, upToSeq: 0 },
          { jobId: noOutbox.jobId, etag: noOutbox.etag, upToSeq: 3 },
          { jobId: nextJobId('missing'), etag: freshEtag(), upToSeq: 3 },
        ]);
        expect(sortById(await store().getJobs(ids([record, noOutbox])))).to.deep.equal(
          sortById([{ ...record, pendingEvents: record.pendingEvents!.slice(2) }, noOutbox]),
        );
        await store().clearPendingEvents([]);
      });

      it('clears many records in one call, each on its own', async () => {
        const records = Array.from({ length: 240 }, () => withThreeEvents(makeJob({ tenant: uniqueTenant() })));
        await insertAll(store(), records);
        // In turn: the whole outbox, part of it, under a changed etag, nothing.
        const cases = [
          { upToSeq: 3, sameEtag: true, kept: 0 },
          { upToSeq: 2, sameEtag: true, kept: 1 },
          { upToSeq: 3, sameEtag: false, kept: 3 },
          { upToSeq: 0, sameEtag: true, kept: 3 },
        ];
        const clearances = records.map((record, i) => ({
          jobId: record.jobId,
          etag: cases[i % 4]!.sameEtag ? record.etag : freshEtag(),
          upToSeq: cases[i % 4]!.upToSeq,
        }));
        // records[1] is cleared twice in the call, in part and whole, in whichever order the shuffle gives.
        const twice = records[1]!;
        const more = [{ jobId: twice.jobId, etag: twice.etag, upToSeq: 3 }, { jobId: nextJobId('missing'), etag: freshEtag(), upToSeq: 3 }];
        await store().clearPendingEvents(shuffled([...clearances, ...more], 17));

        const expected = records.map((record, i) => {
          const kept = record === twice ? 0 : cases[i % 4]!.kept;
          return kept === 0 ? withoutOutbox(record) : { ...record, pendingEvents: record.pendingEvents!.slice(3 - kept) };
        });
        expect(sortById(await store().getJobs(ids(records)))).to.deep.equal(sortById(expected));
      });

      it('applies every clearance of a call, several of one record included, in any order', async () => {
        const first = withThreeEvents(makeJob());
        const second = withThreeEvents(makeJob());
        await insertAll(store(), [first, second]);
        await store().clearPendingEvents([
          { jobId: first.jobId, etag: first.etag, upToSeq: 2 },
          { jobId: first.jobId, etag: first.etag, upToSeq: 1 },
          { jobId: second.jobId, etag: second.etag, upToSeq: 1 },
          { jobId: second.jobId, etag: second.etag, upToSeq: 2 },
        ]);
        expect(sortById(await store().getJobs(ids([first, second])))).to.deep.equal(
          sortById([first, second].map((record) => ({ ...record, pendingEvents: record.pendingEvents!.slice(2) }))),
        );
      });

      it('lists the records with pending events, of every tenant, by job id, whole, page after page', async () => {
        const own = await openStore();
        const tag = nextJobId('outbox');
        const job = (suffix: string) => makeJob({ jobId: `${tag}-${suffix}`, tenant: uniqueTenant() });
        // '-B' sorts before '-a' by code unit.
        const pending = [withThreeEvents(job('a')), withThreeEvents(job('B')), withThreeEvents(job('m')), withThreeEvents(job('z'))];
        const quiet: JobRecord[] = [job('b'), { ...job('c'), eventSeq: 3 }, { ...job('d'), eventSeq: 1, pendingEvents: [] }];
        await insertAll(own, shuffled([...pending, ...quiet], 23));
        const all = sortById(pending);
        expect(ids(all)).to.deep.equal([`${tag}-B`, `${tag}-a`, `${tag}-m`, `${tag}-z`]);
        expect(await own.listWithPendingEvents(10)).to.deep.equal(all);
        for (const limit of [1, 2, 3]) {
          const seen: string[] = [];
          let page = await own.listWithPendingEvents(limit);
          for (let pages = 0; page.length > 0; pages++) {
            expect(page.length).to.be.at.most(limit);
            expect(pages).to.be.below(10);
            seen.push(...ids(page));
            page = await own.listWithPendingEvents(limit, page[page.length - 1]!.jobId);
          }
          expect(seen, `limit ${limit}`).to.deep.equal(ids(all));
        }
        expect(ids(await own.listWithPendingEvents(10, `${tag}-b`))).to.deep.equal([`${tag}-m`, `${tag}-z`]);
        expect(await own.listWithPendingEvents(10, `${tag}-z`)).to.deep.equal([]);
      });

      it('stops listing a record once its outbox is cleared, and lists the outboxes that writes add or keep', async () => {
        const own = await openStore();
        const cleared = withThreeEvents(makeJob());
        const partly = withThreeEvents(makeJob());
        const gainsEvents = makeJob({ status: 'QUEUED' });
        const losesEvents = withThreeEvents(makeJob({ status: 'RUNNING' }));
        const staled = withThreeEvents(makeJob());
        await insertAll(own, [cleared, partly, gainsEvents, losesEvents, staled]);

        await own.clearPendingEvents([
          { jobId: cleared.jobId, etag: cleared.etag, upToSeq: 3 },
          { jobId: partly.jobId, etag: partly.etag, upToSeq: 2 },
        ]);
        const gained = withEvents(makeJob({ jobId: gainsEvents.jobId, createdAt: gainsEvents.createdAt, status: 'RUNNING' }), ['compute.job.started'], at(7));
        // A write whose events went to the log some other way stores the record without an outbox.
        const lost: JobRecord = { ...makeJob({ jobId: losesEvents.jobId, createdAt: losesEvents.createdAt }), eventSeq: 5 };
        expect(
          await own.replaceJobs([
            { record: gained, expectedEtag: gainsEvents.etag },
            { record: lost, expectedEtag: losesEvents.etag },
          ]),
        ).to.deep.equal([true, true]);
        expect(await own.markStale([staled.jobId], at(8))).to.equal(1);
        const [stale] = await own.getJobs([staled.jobId]);
        expect(stale!.pendingEvents).to.deep.equal(staled.pendingEvents);

        expect(await own.listWithPendingEvents(10)).to.deep.equal(
          sortById([{ ...partly, pendingEvents: partly.pendingEvents!.slice(2) }, gained, stale!]),
        );
        expect(sortById(await own.getJobs(ids([cleared, lost])))).to.deep.equal(sortById([withoutOutbox(cleared), lost]));
      });

      it('keeps the outboxes of a batch in which a record collides', async () => {
        const own = await openStore();
        const existing = withThreeEvents(makeJob());
        await insertAll(own, [existing]);
        const first = withThreeEvents(makeJob());
        const collision = withThreeEvents(makeJob({ jobId: existing.jobId, status: 'FAILED' }));
        const quiet = makeJob();
        const last = withThreeEvents(makeJob());
        expect(await own.insertJobs([first, collision, quiet, last])).to.deep.equal([
          { inserted: true },
          { inserted: false, conflict: 'JOB_ID' },
          { inserted: true },
          { inserted: true },
        ]);
        expect(await own.listWithPendingEvents(10)).to.deep.equal(sortById([existing, first, last]));
        expect(await own.getJobs([quiet.jobId])).to.deep.equal([quiet]);
      });
    });

    describe('when the database is gone', function () {
      it('rejects every call with UNAVAILABLE', async () => {
        const { store, breakDatabase } = await harness.createBreakable();
        adopt(store);
        const record = makeJob();
        await insertAll(store, [record]);
        await breakDatabase();

        const calls: Array<[string, () => Promise<unknown>]> = [
          ['ping', () => store.ping()],
          ['getJobs', () => store.getJobs([record.jobId])],
          ['insertJobs', () => store.insertJobs([makeJob()])],
          ['replaceJob', () => store.replaceJob({ ...record, etag: freshEtag() }, record.etag)],
          ['findByRequestIds', () => store.findByRequestIds('default', ['req-1'])],
          ['findReferencedIds', () => store.findReferencedIds([record.jobId])],
          ['listJobs', () => store.listJobs({ reader: { tenant: 'default', grant: 'default/tester' }, filter: {}, limit: 10 })],
          ['listChildren', () => store.listChildren(record.jobId, 10)],
          ['lineage', () => store.lineage({ rootId: record.jobId, direction: 'DESCENDANTS', projection: 'IDS' })],
          ['replaceJobs', () => store.replaceJobs([{ record: { ...record, etag: freshEtag() }, expectedEtag: record.etag }])],
          ['markStale', () => store.markStale([record.jobId], new Date())],
          [
            'findReusableResult',
            () => store.findReusableResult({ tenant: record.tenant, definitionHash: record.definitionHash, inputHash: record.inputHash, excludeJobId: 'other' }),
          ],
          ['listByStatus', () => store.listByStatus({ origin: 'RECORDED', statuses: ['SUCCEEDED'], limit: 10 })],
          ['clearPendingEvents', () => store.clearPendingEvents([{ jobId: record.jobId, etag: record.etag, upToSeq: 1 }])],
          ['listWithPendingEvents', () => store.listWithPendingEvents(10)],
        ];
        // All at once: a driver may take its whole server selection timeout to give up.
        const settled = await Promise.allSettled(calls.map(([, call]) => call()));
        settled.forEach((outcome, i) => {
          const method = calls[i]![0];
          expect(outcome.status, `${method} should reject`).to.equal('rejected');
          const reason = (outcome as PromiseRejectedResult).reason as unknown;
          expect(reason, `${method} rejects with ${String(reason)}`).to.be.instanceOf(ProvenanceError);
          expect((reason as ProvenanceError).code, method).to.equal('UNAVAILABLE');
        });
      });
    });
  });
}

async function insertAll(store: ProvenanceStore, records: readonly JobRecord[]): Promise<void> {
  const outcomes = await store.insertJobs(records);
  expect(outcomes).to.deep.equal(records.map(() => ({ inserted: true })));
}

function ids(records: readonly { jobId: string }[]): string[] {
  return records.map((r) => r.jobId);
}

function sortById<T extends { jobId: string }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => compareCodeUnits(a.jobId, b.jobId));
}

function byId(records: readonly JobRecord[]): Map<string, JobRecord> {
  return new Map(records.map((r) => [r.jobId, r]));
}

function uniqueTenant(): string {
  return nextJobId('tenant');
}

/** A reader grant, "tenant/subject" (the subject may hold '/' too). */
function uniqueGrant(): string {
  return `${nextJobId('tenant')}/${nextJobId('user')}@example.test/x`;
}

async function walk(store: ProvenanceStore, first: ListJobsQuery): Promise<string[]> {
  const seen: string[] = [];
  let page = await store.listJobs(first);
  for (let pages = 0; page.length > 0; pages++) {
    expect(page.length).to.be.at.most(first.limit);
    expect(pages, 'pages walked').to.be.below(100);
    seen.push(...ids(page));
    const last = page[page.length - 1]!;
    page = await store.listJobs({ ...first, after: { createdAt: last.createdAt, jobId: last.jobId } });
  }
  return seen;
}

function newestFirst(records: readonly JobRecord[]): JobRecord[] {
  return [...records].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || compareCodeUnits(b.jobId, a.jobId));
}

/** The JobFilter of the port, written out plainly as the oracle of the listJobs tests. */
function matches(record: JobRecord, filter: JobFilter): boolean {
  const time = record.createdAt.getTime();
  const range = filter.createdAt ?? {};
  return (
    (filter.type === undefined || record.type === filter.type) &&
    (filter.status === undefined || record.status === filter.status) &&
    (filter.providerId === undefined || record.provider.id === filter.providerId) &&
    (filter.providerModel === undefined || record.provider.model === filter.providerModel) &&
    (filter.providerVersion === undefined || record.provider.version === filter.providerVersion) &&
    (filter.definitionHash === undefined || record.definitionHash === filter.definitionHash) &&
    Object.entries(filter.labels ?? {}).every(([key, value]) => record.labels[key] === value) &&
    (range.gt === undefined || time > range.gt.getTime()) &&
    (range.gte === undefined || time >= range.gte.getTime()) &&
    (range.lt === undefined || time < range.lt.getTime()) &&
    (range.lte === undefined || time <= range.lte.getTime())
  );
}

/** Ids within maxDepth steps of start (start excluded), by plain breadth-first search. */
function reachable(start: string, next: ReadonlyMap<string, readonly string[]>, maxDepth: number | undefined): Set<string> {
  const depths = shortestDepths(start, next);
  return new Set([...depths].filter(([, depth]) => maxDepth === undefined || depth <= maxDepth).map(([id]) => id));
}

/** Every job reachable from start, with its shortest distance. */
function shortestDepths(start: string, next: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const found = new Map<string, number>();
  let frontier = [start];
  for (let depth = 1; frontier.length > 0; depth++) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const neighbour of next.get(id) ?? []) {
        if (neighbour === start || found.has(neighbour)) continue;
        found.set(neighbour, depth);
        following.push(neighbour);
      }
    }
    frontier = following;
  }
  return found;
}

/** A lineage row without the depth a store may add. */
function withoutDepth(row: LineageRow): Omit<LineageRow, 'depth'> {
  const { depth: _depth, ...rest } = row;
  return rest;
}

/** JSON that trips up stores: dotted, dollar, empty, escape-like and non-Latin keys, deep nesting, edge numbers. */
function awkwardJson(): JsonObject {
  // A literal would set the prototype; JSON.parse makes "__proto__" an own key, as a decoded request does.
  const ownProto = JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject;
  return {
    ...ownProto,
    '%24': 'looks like an escaped dollar',
    '100%': 'percent key',
    'nul\u0000key': 'nul\u0000value',
    'a.b': 'dotted key',
    $x: 'dollar key',
    '': 'empty key',
    'key with spaces': 'value',
    nested: { $in: [1, 2], 'c.d': { '': null }, $: { '.': '$' } },
    ключ: 'значение',
    键: '值 🧪',
    '🙂': ['emoji key'],
    text: 'line\nbreak\t"quoted" \\ back\u2028separator',
    list: [{ a: 1 }, { b: [true, false, null] }, [], {}, [[{ deep: [{ deeper: 'yes' }] }]]],
    nothing: null,
    yes: true,
    no: false,
    zero: 0,
    negative: -17,
    fraction: 0.1,
    inexact: 0.1 + 0.2,
    small: -1.5e-7,
    huge: 1e300,
    smallest: 5e-324,
    maxSafe: 2 ** 53,
    int64: 2 ** 62,
    int32Edge: 2 ** 31,
  };
}

function everyFieldSet(overrides: Partial<JobRecord> = {}): JobRecord {
  const parentIds = [nextJobId('zz-parent'), nextJobId('aa-parent')];
  const output: JsonValue = { rows: [{ id: 1, score: 0.75 }], complete: true };
  return makeJob({
    parentIds,
    status: 'FAILED',
    cacheState: 'STALE',
    createdAt: new Date('2024-06-01T08:30:00.123Z'),
    startedAt: new Date('2024-06-01T08:30:00.456Z'),
    completedAt: new Date('2024-06-01T08:30:01.789Z'),
    updatedAt: new Date('2024-06-01T08:30:02.001Z'),
    durationMs: 0,
    result: { outputHash: outputHash(output), output, cached: true, cachedFromJobId: nextJobId('source') },
    error: { reason: 'DEPENDENCY_FAILED', message: 'parent failed', dependencyJobId: parentIds[0]! },
    attempt: 3,
    rerunOfJobId: nextJobId('former'),
    labels: { team: 'research', env: 'prod', note: '' },
    metadata: { notebook: 'analysis.ipynb', cells: [1, 2, 3], reviewed: { by: 'ana', ok: true } },
    tenant: 'acme',
    owner: 'ana@acme.test',
    readers: ['zoe@acme.test', 'bob@acme.test'],
    origin: 'SUBMITTED',
    payloadRedacted: true,
    cachePolicy: 'REFRESH',
    requestId: `req-${nextJobId()}`,
    ...overrides,
  });
}

function noOptionalField(overrides: Partial<JobRecord> = {}): JobRecord {
  return makeJob({
    payload: {},
    status: 'QUEUED',
    labels: {},
    metadata: {},
    readers: [],
    parentIds: [],
    createdAt: new Date('2023-12-31T23:59:59.999Z'),
    updatedAt: new Date('2023-12-31T23:59:59.999Z'),
    ...overrides,
  });
}

/** The same items in an order fixed by the seed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

