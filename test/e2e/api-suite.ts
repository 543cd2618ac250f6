import { randomBytes } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { MAX_FILTER_COMPARISONS } from '../../src/domain/filter-syntax.js';
import { DEFAULT_VOLATILE_KEYS, definitionHash, inputHash, outputHash } from '../../src/domain/hashing.js';
import { CacheState, JobOrigin, JobStatus } from '@provenance/client';
import { LineageDirection, LineageRelation, LineageView, TruncationReason } from '@provenance/client';
import { GraphFormat, RecordJobRequest, ReproducibilityIssueReason, SubmitJobRequest, WatchEventsRequest, type BatchRecordJobsResponse, type DeepPartial } from '@provenance/client';
import { connect, decodeStatus, failure, statusDetails, type Client } from '../support/grpc-client.js';
import { mulberry32 } from '../support/job-records.js';
import { parseDot, parseMermaid, provJsonProblems } from '../support/graph-documents.js';
import type { ServerProcess } from '../support/server-process.js';

/** Limits the lanes start their servers with, so that the tests can reach them. */
export const TEST_LIMITS = {
  PROVENANCE_MAX_PAYLOAD_BYTES: '4096',
  PROVENANCE_BATCH_SIZE: '50',
  PROVENANCE_MAX_LINEAGE_DEPTH: '20',
  PROVENANCE_MAX_LINEAGE_NODES: '500',
};

export interface ApiLane {
  name: string;
  /** Starts a server with TEST_LIMITS on a fresh, empty store. */
  start(): Promise<ServerProcess>;
  dispose(): Promise<void>;
}

const VOLATILE = new Set(DEFAULT_VOLATILE_KEYS);
const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;

/** The ProvenanceService API through the generated client against a live server process. */
export function describeApi(lane: ApiLane): void {
  describe(`ProvenanceService API (${lane.name})`, function () {
    this.timeout(60_000);
    let server: ServerProcess;
    let api: Client;
    let prefix: string;
    /** An id unique to the running test. */
    const id = (name: string) => `${prefix}-${name}`;
    const record = (request: DeepPartial<RecordJobRequest>) => api.recordJob({ status: SUCCEEDED, outputHash: 'out-hash', ...request });
    const countJobs = async () => (await api.listJobs({ pageSize: 1000 })).jobs.length;

    before(async () => {
      server = await lane.start();
      api = connect(server.address);
    });
    after(async () => {
      api?.close();
      await server?.stop();
      await lane.dispose();
    });
    beforeEach(() => {
      prefix = randomBytes(4).toString('hex');
    });

    describe('RecordJob and GetJob', () => {
      it('stores the provenance record with its hashes and returns it', async () => {
        const parent = await record({ jobId: id('p'), type: 'ingest', payload: { source: 's3://a' }, outputHash: 'h-parent' });
        const started = new Date('2026-03-01T10:00:00.000Z');
        const completed = new Date('2026-03-01T10:00:02.500Z');
        const job = await api.recordJob({
          jobId: id('c'),
          type: 'train',
          payload: { lr: 0.1, layers: [64, 32], requestedAt: '2026-03-01T09:59:00Z' },
          provider: { id: 'gpu-pool', model: 'resnet', version: '50' },
          parentJobIds: [parent.jobId],
          status: SUCCEEDED,
          startTime: started,
          completeTime: completed,
          output: { accuracy: 0.93 },
          labels: { team: 'vision' },
          metadata: { notebook: 'n1' },
        });
        const definition = definitionHash('train', { lr: 0.1, layers: [64, 32] }, VOLATILE);
        expect(job).to.include({ jobId: id('c'), type: 'train', definitionHash: definition, status: SUCCEEDED, attempt: 1, tenant: 'default' });
        expect(job.inputHash).to.equal(inputHash(definition, [{ jobId: parent.jobId, outputHash: 'h-parent' }]));
        expect(job.result).to.deep.equal({ outputHash: outputHash({ accuracy: 0.93 }), output: { accuracy: 0.93 }, cached: false, cachedFromJobId: '' });
        expect(job.duration).to.deep.equal({ seconds: '2', nanos: 500_000_000 });
        expect(job.cacheState).to.equal(CacheState.CACHE_STATE_FRESH);
        expect(job.origin).to.equal(JobOrigin.JOB_ORIGIN_RECORDED);
        expect(job.payload).to.deep.equal({ lr: 0.1, layers: [64, 32], requestedAt: '2026-03-01T09:59:00Z' });
        expect(job.etag).to.be.a('string').and.not.be.empty;
        expect(await api.getJob({ jobId: job.jobId })).to.deep.equal(job);
      });

      it('generates a time-ordered id when none is given', async () => {
        const first = await record({ type: 'noop' });
        const second = await record({ type: 'noop' });
        expect(first.jobId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(second.jobId > first.jobId || second.createTime!.getTime() === first.createTime!.getTime()).to.equal(true);
      });

      it('hashes two requests that differ only in volatile keys alike', async () => {
        const a = await record({ type: 'embed', payload: { text: 'hi', timestamp: '2026-01-01T00:00:00Z' } });
        const b = await record({ type: 'embed', payload: { timestamp: '2027-01-01T00:00:00Z', text: 'hi' } });
        expect(a.definitionHash).to.equal(b.definitionHash);
        expect(b.payload).to.deep.equal({ timestamp: '2027-01-01T00:00:00Z', text: 'hi' });
      });

      it('answers a retry with the same request_id with the job it created, and refuses the id for another request', async () => {
        const before = await countJobs();
        const request = { type: 'train', payload: { seed: 7 }, requestId: id('req'), status: SUCCEEDED, outputHash: 'o1' };
        const first = await api.recordJob(request);
        const again = await api.recordJob(request);
        expect(again).to.deep.equal(first);
        const error = await failure(api.recordJob({ ...request, payload: { seed: 8 } }));
        expect(error.code).to.equal(status.ALREADY_EXISTS);
        expect(statusDetails(error).errorInfo?.reason).to.equal('REQUEST_ID_REUSED');
        expect(await countJobs()).to.equal(before + 1);
      });

      it('moves a recorded job forward, returns it unchanged for the same request, and refuses anything else', async () => {
        const running = await api.recordJob({ jobId: id('r'), type: 'etl', status: JobStatus.JOB_STATUS_RUNNING, startTime: new Date('2026-05-01T00:00:00Z') });
        expect(running.attempt).to.equal(1);
        expect(running.cacheState).to.equal(CacheState.CACHE_STATE_NONE);
        expect(await api.recordJob({ jobId: id('r'), type: 'etl', status: JobStatus.JOB_STATUS_RUNNING, startTime: new Date('2026-05-01T00:00:00Z') })).to.deep.equal(running);

        const done = await api.recordJob({ jobId: id('r'), type: 'etl', status: SUCCEEDED, completeTime: new Date('2026-05-01T00:01:00Z'), outputHash: 'o', etag: running.etag });
        expect(done.status).to.equal(SUCCEEDED);
        expect(done.startTime).to.deep.equal(running.startTime);
        expect(done.duration).to.deep.equal({ seconds: '60', nanos: 0 });
        expect(done.etag).not.to.equal(running.etag);
        expect(done.createTime).to.deep.equal(running.createTime);

        const backwards = await failure(api.recordJob({ jobId: id('r'), type: 'etl', status: JobStatus.JOB_STATUS_RUNNING }));
        expect(backwards.code).to.equal(status.ALREADY_EXISTS);
        const otherContent = await failure(record({ jobId: id('r'), type: 'etl', payload: { changed: true } }));
        expect(otherContent.code).to.equal(status.ALREADY_EXISTS);
        expect(statusDetails(otherContent).resourceInfo).to.include({ resourceType: 'provenance.v1.Job', resourceName: `jobs/${id('r')}` });
        const staleEtag = await failure(api.recordJob({ jobId: id('r'), type: 'etl', status: SUCCEEDED, outputHash: 'o', etag: running.etag }));
        expect(staleEtag.code).to.equal(status.ABORTED);
        expect(await api.getJob({ jobId: id('r') })).to.deep.equal(done);
      });

      it('is NOT_FOUND for an unknown job, with the resource in the details', async () => {
        const error = await failure(api.getJob({ jobId: id('nope') }));
        expect(error.code).to.equal(status.NOT_FOUND);
        const details = statusDetails(error);
        expect(details.errorInfo).to.include({ reason: 'JOB_NOT_FOUND', domain: 'provenance.v1' });
        expect(details.resourceInfo?.resourceName).to.equal(`jobs/${id('nope')}`);
      });
    });

    describe('bad input', () => {
      const violations = async (call: Promise<unknown>) => {
        const error = await failure(call);
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        const details = statusDetails(error);
        expect(details.errorInfo?.reason).to.equal('INVALID_ARGUMENT');
        return details.badRequest!.fieldViolations.map((v) => v.field);
      };

      it('refuses each kind with INVALID_ARGUMENT and field violations, and stores nothing', async () => {
        const before = await countJobs();
        expect(await violations(api.recordJob({ type: '', status: SUCCEEDED, outputHash: 'x' }))).to.deep.equal(['type']);
        expect(await violations(record({ type: 't', payload: { blob: 'x'.repeat(5000) } }))).to.deep.equal(['payload']);
        let deep: Record<string, unknown> = { leaf: true };
        for (let level = 0; level < 70; level++) deep = { level: deep };
        expect(await violations(record({ type: 't', metadata: deep }))).to.deep.equal(['request']);
        expect(await violations(record({ jobId: 'bad id!', type: 't' }))).to.deep.equal(['job_id']);
        expect(await violations(record({ type: 't', parentJobIds: ['ok', 'ok'] }))).to.deep.equal(['parent_job_ids[1]']);
        expect(await violations(api.recordJob({ type: 't' }))).to.deep.equal(['status']);
        expect(await violations(api.recordJob({ type: 't', status: SUCCEEDED }))).to.deep.equal(['output_hash']);
        expect(await violations(record({ type: 't', output: { a: 1 }, outputHash: 'wrong' }))).to.deep.equal(['output_hash']);
        expect(await violations(record({ type: 't', labels: { 'Bad Key': 'v' } }))).to.deep.equal(['labels[Bad Key]']);
        expect(
          await violations(api.recordJob({ type: 't', status: SUCCEEDED, outputHash: 'x', startTime: new Date(2000), completeTime: new Date(1000) })),
        ).to.deep.equal(['complete_time']);
        expect(await violations(api.recordJob({ type: 't', status: JobStatus.JOB_STATUS_QUEUED, outputHash: 'x' }))).to.deep.equal(['output_hash']);
        expect(await violations(api.getJob({ jobId: '' }))).to.deep.equal(['job_id']);
        expect(await violations(api.getJob({ jobId: '../etc' }))).to.deep.equal(['job_id']);
        expect(await violations(api.listJobs({ pageSize: -1 }))).to.deep.equal(['page_size']);
        expect(await violations(api.listJobs({ pageToken: 'not-a-token' }))).to.deep.equal(['page_token']);
        expect(await violations(api.listJobs({ filter: 'colour = "red"' }))).to.deep.equal(['filter']);
        expect(await violations(api.getLineage({ jobId: 'x', maxDepth: -1, maxNodes: -2 }))).to.deep.equal(['max_depth', 'max_nodes']);
        expect(await violations(api.getLineage({ jobId: 'x', direction: 42 as LineageDirection }))).to.deep.equal(['direction']);
        expect(await countJobs()).to.equal(before);
      });

      it('refuses a "__proto__" label key like any other bad key, in RecordJob, BatchRecordJobs, SubmitJob and WatchEvents', async () => {
        const before = await countJobs();
        // JSON.parse: an object literal would take "__proto__" as its prototype. The raw stub encodes the request as it is (fromPartial would drop the key).
        const labels = JSON.parse('{"team": "a", "__proto__": "x"}') as Record<string, string>;
        const unary = <T>(call: (done: (error: ServiceError | null, value?: T) => void) => unknown) =>
          new Promise<T>((resolve, reject) => void call((error, value) => (error ? reject(error) : resolve(value!))));
        const recordRequest = (jobId: string) => ({ ...RecordJobRequest.fromPartial({ jobId, type: 't', status: SUCCEEDED, outputHash: 'x' }), labels });
        expect(await violations(unary((done) => api.raw.recordJob(recordRequest(id('proto-label')), done)))).to.deep.equal(['labels[__proto__]']);
        const submitRequest = { ...SubmitJobRequest.fromPartial({ type: 'echo' }), labels };
        expect(await violations(unary((done) => api.raw.submitJob(submitRequest, done)))).to.deep.equal(['labels[__proto__]']);
        const fine = RecordJobRequest.fromPartial({ jobId: id('proto-label-fine'), type: 't', status: SUCCEEDED, outputHash: 'x', labels: { team: 'a' } });
        const batch = await unary<BatchRecordJobsResponse>((done) => api.raw.batchRecordJobs({ requests: [recordRequest(id('proto-label-batch')), fine] }, done));
        expect(batch.results.map((r) => r.status!.code)).to.deep.equal([status.INVALID_ARGUMENT, status.OK]);
        expect(decodeStatus(batch.results[0]!.status!).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['labels[__proto__]']);
        expect(await countJobs()).to.equal(before + 1);
        const watch = api.raw.watchEvents({ ...WatchEventsRequest.fromPartial({}), labels });
        expect(await violations(new Promise((resolve, reject) => watch.on('error', reject).on('end', resolve)))).to.deep.equal(['labels[__proto__]']);
      });

      it('refuses a page token made for another filter', async () => {
        for (let i = 0; i < 3; i++) await record({ type: 'paged', labels: { run: prefix } });
        const page = await api.listJobs({ pageSize: 1, filter: `labels.run = "${prefix}"` });
        expect(page.nextPageToken).not.to.equal('');
        const error = await failure(api.listJobs({ pageSize: 1, pageToken: page.nextPageToken, filter: 'type = "paged"' }));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(statusDetails(error).badRequest?.fieldViolations[0]?.description).to.match(/different query/);
      });

    });

    describe('parents', () => {
      it('refuses parents that do not exist, naming them, unless allow_missing_parents', async () => {
        const before = await countJobs();
        const error = await failure(record({ jobId: id('orphan'), type: 't', parentJobIds: [id('ghost1'), id('ghost2')] }));
        expect(error.code).to.equal(status.FAILED_PRECONDITION);
        const details = statusDetails(error);
        expect(details.errorInfo?.reason).to.equal('PARENT_NOT_FOUND');
        expect(details.preconditionFailure?.violations.map((v) => v.subject)).to.deep.equal([`jobs/${id('ghost1')}`, `jobs/${id('ghost2')}`]);
        expect(await countJobs()).to.equal(before);

        const kept = await record({ jobId: id('orphan'), type: 't', parentJobIds: [id('ghost1')], allowMissingParents: true });
        expect(kept.parentJobIds).to.deep.equal([id('ghost1')]);
        const report = await api.checkReproducibility({ jobId: kept.jobId });
        expect(report.reproducible).to.equal(false);
        expect(report.issues).to.deep.include({
          reason: ReproducibilityIssueReason.REPRODUCIBILITY_ISSUE_REASON_MISSING_ANCESTOR,
          jobId: id('ghost1'),
          message: `job ${id('ghost1')}, a parent of ${kept.jobId}, has no record`,
        });
      });

      it('refuses a record that would close a cycle, naming the path', async () => {
        await record({ jobId: id('b'), type: 't', parentJobIds: [id('x')], allowMissingParents: true });
        await record({ jobId: id('c'), type: 't', parentJobIds: [id('b')] });
        const error = await failure(record({ jobId: id('x'), type: 't', parentJobIds: [id('c')] }));
        expect(error.code).to.equal(status.FAILED_PRECONDITION);
        const details = statusDetails(error);
        expect(details.errorInfo?.reason).to.equal('LINEAGE_CYCLE');
        expect(details.preconditionFailure?.violations[0]?.description).to.equal(`${id('x')} → ${id('b')} → ${id('c')} → ${id('x')}`);
        await failure(api.getJob({ jobId: id('x') }));

        const self = await failure(record({ jobId: id('self'), type: 't', parentJobIds: [id('self')], allowMissingParents: true }));
        expect(statusDetails(self).errorInfo?.reason).to.equal('LINEAGE_CYCLE');
      });
    });

    describe('BatchRecordJobs', () => {
      it('records each request on its own, in order, with parents from the same batch', async () => {
        const response = await api.batchRecordJobs({
          requests: [
            { jobId: id('a'), type: 'src', status: SUCCEEDED, outputHash: 'ha' },
            { jobId: id('b'), type: 'mid', status: SUCCEEDED, outputHash: 'hb', parentJobIds: [id('a')] },
            { jobId: id('bad'), type: '', status: SUCCEEDED, outputHash: 'x' },
            { jobId: id('c'), type: 'end', status: SUCCEEDED, outputHash: 'hc', parentJobIds: [id('b'), id('missing')] },
            { jobId: id('a'), type: 'src', status: SUCCEEDED, outputHash: 'ha' },
          ],
        });
        const codes = response.results.map((r) => r.status!.code);
        expect(codes).to.deep.equal([status.OK, status.OK, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.OK]);
        expect(decodeStatus(response.results[2]!.status!).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['type']);
        expect(response.results[1]!.job!.inputHash).to.equal(inputHash(response.results[1]!.job!.definitionHash, [{ jobId: id('a'), outputHash: 'ha' }]));
        expect(response.results[4]!.job).to.deep.equal(response.results[0]!.job);
        await api.getJob({ jobId: id('b') });
        expect((await failure(api.getJob({ jobId: id('c') }))).code).to.equal(status.NOT_FOUND);
      });

      it('refuses more than PROVENANCE_BATCH_SIZE records as a whole', async () => {
        const requests = Array.from({ length: 51 }, () => ({ type: 't', status: SUCCEEDED, outputHash: 'x' }));
        const error = await failure(api.batchRecordJobs({ requests }));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(statusDetails(error).badRequest?.fieldViolations[0]?.field).to.equal('requests');
      });
    });

    describe('ListJobs', () => {
      it('filters, orders newest first and pages through every job exactly once', async () => {
        const made: string[] = [];
        for (let i = 0; i < 7; i++) {
          const job = await record({ type: i % 2 ? 'odd' : 'even', labels: { run: prefix, idx: String(i) }, provider: { id: i < 3 ? 'p1' : 'p2' } });
          made.push(job.jobId);
        }
        const seen: string[] = [];
        let pageToken = '';
        do {
          const page = await api.listJobs({ pageSize: 3, pageToken, filter: `labels.run = "${prefix}"` });
          expect(page.jobs.length).to.be.at.most(3);
          seen.push(...page.jobs.map((j) => j.jobId));
          pageToken = page.nextPageToken;
        } while (pageToken);
        expect(seen).to.deep.equal([...made].reverse());

        const odd = await api.listJobs({ filter: `labels.run = "${prefix}" AND type = "odd" AND provider.id = "p2"` });
        expect(odd.jobs.map((j) => j.labels.idx)).to.deep.equal(['5', '3']);
        const first = await api.getJob({ jobId: made[0]! });
        const since = await api.listJobs({ filter: `labels.run = "${prefix}" AND create_time > "${first.createTime!.toISOString()}"` });
        expect(since.jobs.map((j) => j.jobId)).not.to.include(made[0]);
        const byHash = await api.listJobs({ filter: `definition_hash = "${first.definitionHash}" AND labels.run = "${prefix}"` });
        expect(byHash.jobs.every((j) => j.type === 'even')).to.equal(true);
      });

      it(`answers a filter of up to ${MAX_FILTER_COMPARISONS} comparisons and refuses a larger one before the store sees it`, async () => {
        const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, prefix]));
        const job = await record({ type: 'wide', labels, provider: { id: 'p', model: 'm', version: 'v' } });
        // Every field a job can match at once: 64 labels (the most a job has), the other fields, every time bound.
        const matching = [
          ...Object.keys(labels).map((key) => `labels.${key} = "${prefix}"`),
          'type = "wide"',
          'status = SUCCEEDED',
          'provider.id = "p" AND provider.model = "m" AND provider.version = "v"',
          `definition_hash = "${job.definitionHash}"`,
          'create_time > "2000-01-01T00:00:00Z" AND create_time >= "2000-01-01T00:00:00Z"',
          'create_time < "2100-01-01T00:00:00Z" AND create_time <= "2100-01-01T00:00:00Z"',
        ].join(' AND ');
        expect((await api.listJobs({ filter: matching })).jobs.map((j) => j.jobId)).to.deep.equal([job.jobId]);
        const more = (count: number) => Array.from({ length: count }, (_, i) => `labels.more${i} = "${prefix}"`);
        const widest = [`labels.k0 = "${prefix}"`, ...more(MAX_FILTER_COMPARISONS - 1)].join(' AND ');
        expect((await api.listJobs({ filter: widest })).jobs).to.deep.equal([]);

        // One comparison too many, and the 5,000 that SQLite refused as "Expression tree is too large" (INTERNAL).
        for (const filter of [`${widest} AND type = "wide"`, more(5000).join(' AND ')]) {
          const error = await failure(api.listJobs({ filter }));
          expect(error.code).to.equal(status.INVALID_ARGUMENT);
          expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['filter']);
        }
      });

      it('refuses fields named like Object members as unknown, in ListJobs and ListAuditEvents', async () => {
        await record({ type: 't' });
        for (const field of ['constructor', '__proto__', 'toString']) {
          for (const call of [() => api.listJobs({ filter: `${field} = "x"` }), () => api.listAuditEvents({ filter: `${field} = "x"` })]) {
            const error = await failure(call());
            expect(error.code).to.equal(status.INVALID_ARGUMENT);
            expect(statusDetails(error).badRequest?.fieldViolations[0]?.description).to.match(new RegExp(`^unknown field ${field}`));
          }
        }
      });
    });

    describe('lineage', () => {
      // a → b → d, a → c → d, d → e, and a → e directly.
      async function diamond() {
        await record({ jobId: id('a'), type: 'src' });
        await record({ jobId: id('b'), type: 'left', parentJobIds: [id('a')] });
        await record({ jobId: id('c'), type: 'right', parentJobIds: [id('a')], status: JobStatus.JOB_STATUS_FAILED, outputHash: '' });
        await record({ jobId: id('d'), type: 'join', parentJobIds: [id('b'), id('c')] });
        await record({ jobId: id('e'), type: 'report', parentJobIds: [id('d'), id('a')] });
      }
      const depths = (nodes: Array<{ jobId: string; depth: number }>) => Object.fromEntries(nodes.map((n) => [n.jobId.slice(prefix.length + 1), n.depth]));

      it('gives ancestors and descendants with shortest depths and the edges among them', async () => {
        await diamond();
        const lineage = await api.getLineage({ jobId: id('d') });
        expect(lineage.root).to.include({ jobId: id('d'), depth: 0, relation: LineageRelation.LINEAGE_RELATION_ROOT, type: 'join' });
        expect(depths(lineage.nodes)).to.deep.equal({ b: 1, c: 1, a: 2, e: 1 });
        expect(lineage.nodes.find((n) => n.jobId === id('c'))).to.include({ status: JobStatus.JOB_STATUS_FAILED, relation: LineageRelation.LINEAGE_RELATION_ANCESTOR });
        expect(lineage.edges.map((e) => `${e.parentJobId.slice(-1)}>${e.childJobId.slice(-1)}`)).to.have.members(['b>d', 'c>d', 'a>b', 'a>c', 'd>e', 'a>e']);
        expect(lineage).to.include({ ancestorDepth: 2, descendantDepth: 1, truncated: false });

        const fromTop = await api.getLineage({ jobId: id('a'), direction: LineageDirection.LINEAGE_DIRECTION_DESCENDANTS });
        expect(depths(fromTop.nodes)).to.deep.equal({ b: 1, c: 1, e: 1, d: 2 });
        expect(fromTop.ancestorDepth).to.equal(0);
      });

      it('says when max_depth or max_nodes cut the answer', async () => {
        await diamond();
        const shallow = await api.getLineage({ jobId: id('e'), direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS, maxDepth: 1 });
        expect(depths(shallow.nodes)).to.deep.equal({ d: 1, a: 1 });
        expect(shallow.truncationReasons).to.deep.equal([TruncationReason.TRUNCATION_REASON_MAX_DEPTH]);
        const exact = await api.getLineage({ jobId: id('e'), direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS, maxDepth: 2 });
        expect(exact.truncated).to.equal(false);
        const few = await api.getLineage({ jobId: id('e'), direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS, maxNodes: 2 });
        expect(few.nodes).to.have.length(2);
        expect(few.truncationReasons).to.deep.equal([TruncationReason.TRUNCATION_REASON_MAX_NODES]);
      });

      it('returns ids only, a summary, or whole records depending on the view', async () => {
        await diamond();
        const ids = await api.getLineage({ jobId: id('b'), view: LineageView.LINEAGE_VIEW_IDS });
        expect(ids.nodes[0]).to.deep.include({ type: '', status: JobStatus.JOB_STATUS_UNSPECIFIED, job: undefined });
        const full = await api.getLineage({ jobId: id('b'), view: LineageView.LINEAGE_VIEW_FULL });
        const a = full.nodes.find((n) => n.jobId === id('a'))!;
        expect(a.job).to.deep.equal(await api.getJob({ jobId: id('a') }));
      });

      it('lists direct and transitive dependents, page by page', async () => {
        await diamond();
        const direct = await api.listDependents({ jobId: id('a') });
        expect(direct.dependents.map((d) => [d.job!.jobId, d.depth])).to.deep.equal([
          [id('b'), 1],
          [id('c'), 1],
          [id('e'), 1],
        ]);
        const seen: Array<[string, number]> = [];
        let pageToken = '';
        do {
          const page = await api.listDependents({ jobId: id('a'), transitive: true, pageSize: 2, pageToken });
          seen.push(...page.dependents.map((d): [string, number] => [d.job!.jobId.slice(-1), d.depth]));
          pageToken = page.nextPageToken;
        } while (pageToken);
        expect(seen).to.deep.equal([
          ['b', 1],
          ['c', 1],
          ['e', 1],
          ['d', 2],
        ]);
        const error = await failure(api.listDependents({ jobId: id('a'), transitive: false, pageToken: (await api.listDependents({ jobId: id('a'), transitive: true, pageSize: 1 })).nextPageToken }));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
      });

      it('pages through a few hundred transitive dependents, at page size 1 and 7, exactly as in one page', async function () {
        // About 350 calls: the MongoDB emulator takes tens of seconds on a busy machine.
        this.timeout(300_000);
        // 300 jobs below a root, each with one to three parents among the 30 recorded just before it; names in another order than depths.
        const random = mulberry32(20260415);
        const names = Array.from({ length: 300 }, (_, i) => id(`n${((i * 97) % 300).toString().padStart(3, '0')}`));
        const children = new Map<string, string[]>();
        const requests = names.map((jobId, i) => {
          const window = [id('root'), ...names.slice(Math.max(0, i - 30), i)];
          const parentJobIds = [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => window[Math.floor(random() * window.length)]!))];
          for (const parent of parentJobIds) children.set(parent, [...(children.get(parent) ?? []), jobId]);
          return { jobId, type: 'step', parentJobIds, status: SUCCEEDED, outputHash: `h-${i}` };
        });
        await record({ jobId: id('root'), type: 'ingest' });
        for (let start = 0; start < requests.length; start += 50) {
          const response = await api.batchRecordJobs({ requests: requests.slice(start, start + 50) });
          expect(response.results.map((r) => r.status!.code)).to.deep.equal(response.results.map(() => status.OK));
        }
        const depths = new Map<string, number>();
        let frontier = [id('root')];
        for (let depth = 1; frontier.length > 0; depth++) {
          const next: string[] = [];
          for (const parent of frontier) {
            for (const child of children.get(parent) ?? []) {
              if (depths.has(child)) continue;
              depths.set(child, depth);
              next.push(child);
            }
          }
          frontier = next;
        }
        const expected = [...depths].sort(([a, da], [b, db]) => da - db || (a < b ? -1 : 1));

        const onePage = await api.listDependents({ jobId: id('root'), transitive: true, pageSize: 1000 });
        expect(onePage).to.deep.include({ nextPageToken: '', truncated: false, hiddenNodeCount: 0 });
        expect(onePage.dependents.map((d) => [d.job!.jobId, d.depth])).to.deep.equal(expected);
        expect(onePage.dependents.find((d) => d.job!.jobId === names[5])!.job).to.deep.equal(await api.getJob({ jobId: names[5]! }));
        for (const pageSize of [1, 7]) {
          const paged: typeof onePage.dependents = [];
          let pageToken = '';
          do {
            const page = await api.listDependents({ jobId: id('root'), transitive: true, pageSize, pageToken });
            expect(page.dependents).to.have.length(page.nextPageToken ? pageSize : Math.min(pageSize, expected.length - paged.length));
            expect(page).to.deep.include({ truncated: false, hiddenNodeCount: 0 });
            paged.push(...page.dependents);
            pageToken = page.nextPageToken;
            // A token that does not move forward would page for ever.
            expect(paged.length, `at page size ${pageSize}`).to.be.at.most(expected.length);
          } while (pageToken);
          expect(paged, `at page size ${pageSize}`).to.deep.equal(onePage.dependents);
        }
      });

      it('exports whole records and edges', async () => {
        await diamond();
        const graph = await api.exportProvenanceGraph({ jobId: id('d'), direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS });
        expect(graph.jobs.map((j) => j.jobId.slice(-1))).to.deep.equal(['d', 'b', 'c', 'a']);
        expect(graph.jobs[2]).to.deep.equal(await api.getJob({ jobId: id('c') }));
        expect(graph.edges).to.have.length(4);
        expect(graph.format).to.equal(GraphFormat.GRAPH_FORMAT_NATIVE);
      });

      it('exports the graph as PROV-JSON, DOT and Mermaid documents that parse', async () => {
        await diamond();
        const request = { jobId: id('d'), direction: LineageDirection.LINEAGE_DIRECTION_BOTH };
        const native = await api.exportProvenanceGraph(request);
        const jobIds = native.jobs.map((j) => j.jobId);
        const edges = native.edges.map((e) => [e.parentJobId, e.childJobId]);
        expect(jobIds).to.have.length(5);
        expect(edges).to.have.length(6);
        const exported = async (format: GraphFormat) => {
          const response = await api.exportProvenanceGraph({ ...request, format });
          expect(response).to.deep.include({ format, jobs: [], edges: [], truncated: false, hiddenNodeCount: 0 });
          return response;
        };

        const prov = await exported(GraphFormat.GRAPH_FORMAT_PROV_JSON);
        expect(prov.contentType).to.equal('application/json');
        const document = JSON.parse(prov.content) as Record<string, Record<string, Record<string, string>>>;
        expect(provJsonProblems(document)).to.deep.equal([]);
        expect(Object.keys(document['activity']!)).to.deep.equal(jobIds.map((jobId) => `provenance:${jobId}`));
        // Every job but the FAILED one (c) has an output; each edge from a job with an output is a use of it.
        expect(Object.keys(document['entity']!)).to.have.length(4);
        expect(Object.values(document['wasInformedBy']!).map((r) => [r['prov:informant'], r['prov:informed']])).to.deep.equal(
          edges.map((edge) => edge.map((jobId) => `provenance:${jobId}`)),
        );
        expect(Object.values(document['used']!)).to.have.length(5);

        const dot = await exported(GraphFormat.GRAPH_FORMAT_DOT);
        expect(dot.contentType).to.equal('text/vnd.graphviz');
        const dotGraph = parseDot(dot.content);
        expect([...dotGraph.nodes.keys()]).to.deep.equal(jobIds);
        expect(dotGraph.edges).to.deep.equal(edges);

        const mermaid = await exported(GraphFormat.GRAPH_FORMAT_MERMAID);
        expect(mermaid.contentType).to.equal('text/vnd.mermaid');
        const flowchart = parseMermaid(mermaid.content);
        expect([...flowchart.nodes.values()].map((node) => node['label']!.split('<br/>')[0])).to.deep.equal(jobIds);
        expect(flowchart.edges).to.have.length(edges.length);
      });

      it('refuses an unknown export format', async () => {
        const error = await failure(api.exportProvenanceGraph({ jobId: id('d'), format: 99 as GraphFormat }));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(statusDetails(error).badRequest?.fieldViolations.map((v) => [v.field, v.description])).to.deep.equal([['format', 'unknown format']]);
      });

      it('is NOT_FOUND for an unknown root in every lineage method', async () => {
        const calls = [
          () => api.getLineage({ jobId: id('none') }),
          () => api.listDependents({ jobId: id('none') }),
          () => api.exportProvenanceGraph({ jobId: id('none') }),
          () => api.checkReproducibility({ jobId: id('none') }),
        ];
        for (const call of calls) expect((await failure(call())).code).to.equal(status.NOT_FOUND);
      });
    });

    describe('CheckReproducibility', () => {
      // Recorded with a type the server has a handler for (echo), so that only the issue under test shows.
      const reasons = async (jobId: string) => (await api.checkReproducibility({ jobId })).issues.map((i) => [ReproducibilityIssueReason[i.reason], i.jobId.slice(prefix.length + 1)]);

      it('finds a chain of succeeded jobs reproducible', async () => {
        await record({ jobId: id('a'), type: 'echo' });
        await record({ jobId: id('b'), type: 'echo', parentJobIds: [id('a')] });
        const report = await api.checkReproducibility({ jobId: id('b') });
        expect(report).to.deep.equal({ jobId: id('b'), reproducible: true, issues: [], checkedAncestorCount: 1 });
      });

      it('names an ancestor that did not succeed', async () => {
        await api.recordJob({ jobId: id('a'), type: 'echo', status: JobStatus.JOB_STATUS_FAILED, error: { reason: 'OOM', message: 'out of memory' } });
        await record({ jobId: id('b'), type: 'echo', parentJobIds: [id('a')] });
        expect(await reasons(id('b'))).to.deep.equal([['REPRODUCIBILITY_ISSUE_REASON_ANCESTOR_NOT_SUCCEEDED', 'a']]);
      });

      it('notices inputs that changed after the job consumed them', async () => {
        await api.recordJob({ jobId: id('a'), type: 'echo', status: JobStatus.JOB_STATUS_RUNNING });
        await record({ jobId: id('b'), type: 'echo', parentJobIds: [id('a')] });
        await api.recordJob({ jobId: id('a'), type: 'echo', status: SUCCEEDED, outputHash: 'later' });
        expect(await reasons(id('b'))).to.deep.equal([['REPRODUCIBILITY_ISSUE_REASON_INPUT_HASH_MISMATCH', 'b']]);
      });

      it('reports a type the service has no handler for', async () => {
        await record({ jobId: id('a'), type: 'external.train' });
        expect(await reasons(id('a'))).to.deep.equal([['REPRODUCIBILITY_ISSUE_REASON_NO_HANDLER', 'a']]);
      });

      it('reports ancestry beyond the lineage limits', async () => {
        let parent: string[] = [];
        for (let i = 0; i <= 21; i++) {
          await record({ jobId: id(`n${i}`), type: 'echo', parentJobIds: parent });
          parent = [id(`n${i}`)];
        }
        const report = await api.checkReproducibility({ jobId: id('n21') });
        expect(report.checkedAncestorCount).to.equal(20);
        expect(report.issues.map((i) => ReproducibilityIssueReason[i.reason])).to.deep.equal(['REPRODUCIBILITY_ISSUE_REASON_ANCESTRY_TRUNCATED']);
      });
    });

    describe('CompareJobs', () => {
      it('names exactly a changed payload, a changed provider version and a changed grandparent output of a rerun', async () => {
        const provider = (version: string) => ({ id: 'gpu-pool', model: 'resnet', version });
        await record({ jobId: id('a'), type: 'ingest', payload: { source: 's3://a' }, outputHash: 'h-a' });
        await record({ jobId: id('b'), type: 'clean', parentJobIds: [id('a')], outputHash: 'h-b' });
        await record({ jobId: id('c'), type: 'train', payload: { lr: 0.1, requestedAt: '1' }, provider: provider('1'), parentJobIds: [id('b')], outputHash: 'h-c' });
        await record({ jobId: id('a2'), type: 'ingest', payload: { source: 's3://a' }, outputHash: 'h-a2' });
        await record({ jobId: id('b2'), type: 'clean', parentJobIds: [id('a2')], outputHash: 'h-b2' });
        await record({ jobId: id('c2'), type: 'train', payload: { lr: 0.2, requestedAt: '2' }, provider: provider('2'), parentJobIds: [id('b2')], outputHash: 'h-c2' });

        const comparison = await api.compareJobs({ leftJobId: id('c'), rightJobId: id('c2') });
        const { difference } = comparison;
        expect(difference).to.deep.include({ leftJobId: id('c'), rightJobId: id('c2'), definitionHashEqual: false, omittedPayloadDifferenceCount: 0 });
        expect(difference!.payloadDifferences).to.deep.equal([{ path: '/lr', leftValueJson: '0.1', rightValueJson: '0.2', valuesOmitted: false }]);
        expect(difference!.providerChanges).to.deep.equal([{ field: 'version', leftValue: '1', rightValue: '2' }]);
        expect(difference!.parentOutputDifferences).to.deep.equal([{ leftParentJobId: id('b'), rightParentJobId: id('b2'), leftOutputHash: 'h-b', rightOutputHash: 'h-b2' }]);
        expect(comparison.divergences.map((d) => [d.depth, d.restricted, d.difference?.leftJobId, d.difference?.rightJobId])).to.deep.equal([[2, false, id('a'), id('a2')]]);
        expect(comparison.divergences[0]!.difference).to.deep.include({ definitionHashEqual: true, payloadDifferences: [], providerChanges: [], outputHashEqual: false });
        expect(comparison).to.deep.include({ omittedDivergenceCount: 0, truncated: false, comparedAncestorPairCount: 2 });
      });

      it('is INVALID_ARGUMENT naming each missing id, and NOT_FOUND for an unknown job', async () => {
        const error = await failure(api.compareJobs({}));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['left_job_id', 'right_job_id']);
        await record({ jobId: id('known'), type: 'echo' });
        expect((await failure(api.compareJobs({ leftJobId: id('known'), rightJobId: id('none') }))).code).to.equal(status.NOT_FOUND);
      });
    });
  });
}
