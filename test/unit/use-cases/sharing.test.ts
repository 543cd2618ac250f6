import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import { ProvenanceError } from '../../../src/domain/errors.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { recordJobCommand, submitJobCommand } from '../../support/job-records.js';
import { lineageObjects } from '../../support/lineage-objects.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { rejection } from '../../support/waits.js';

const alice = principal('lab', 'alice');
const bob = principal('lab', 'bob');
const admin = principal('lab', 'ada', ['admin']);
const carol = principal('acme', 'carol');
const CAROL = 'acme/carol';

let opened = 0;
const stores: Array<{ name: string; open(directory: string): ProvenanceStore }> = [
  { name: 'memory', open: () => new MemoryProvenanceStore() },
  // A file, so that lineage is answered by the graph on its own thread, as it is served.
  { name: 'SQLite', open: (directory) => SqliteProvenanceStore.open({ path: join(directory, `jobs-${++opened}.db`) }) },
];

async function refusal(promise: Promise<unknown>): Promise<ProvenanceError> {
  const error = await rejection(promise);
  expect(error).to.be.instanceOf(ProvenanceError);
  return error as ProvenanceError;
}

/** SetReaderSubjects: the owner gives and takes back grants, on any job it may, and every read follows. */
for (const { name, open } of stores) {
  describe(`use cases: who may read a job, set by its owner (${name})`, () => {
    let directory: string;
    let s: MemoryService;
    let store: ProvenanceStore;
    before(() => (directory = mkdtempSync(join(tmpdir(), 'provenance-sharing-'))));
    after(() => rmSync(directory, { recursive: true, force: true }));
    beforeEach(async () => {
      store = open(directory);
      s = memoryService({ store });
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'r' }));
    });
    afterEach(() => s.close());

    const stored = async (jobId: string): Promise<JobRecord> => (await store.getJobs([jobId]))[0]!;
    const run = (jobId: string) => s.service.runDelivery({ jobId, finalAttempt: true, signal: new AbortController().signal });
    const share = (readers: string[], etag?: string) => s.service.setReaderSubjects(alice, { jobId: 'r', readers, ...(etag ? { etag } : {}) });

    it('takes a grant back from a finished job: every read of the grantee refuses it from then on', async () => {
      await share([CAROL]);
      // Carol builds on it while she may read it.
      await s.service.recordJob(carol, recordJobCommand({ jobId: 'k', parentIds: ['r'] }));
      expect((await s.service.getJob(carol, 'r')).jobId).to.equal('r');

      // A time when she held the grant: as_of answers with the grants of now.
      const granted = s.clock.now();
      s.clock.advance(60_000);
      const revoked = await share([]);
      expect(revoked.readers).to.deep.equal([]);
      expect((await refusal(s.service.getJob(carol, 'r'))).code).to.equal('NOT_FOUND');
      expect((await refusal(s.service.getJob(carol, 'r', granted))).code, 'as_of').to.equal('NOT_FOUND');
      const asOf = await lineageObjects(await s.service.getLineage(carol, { jobId: 'k', directions: ['ANCESTORS'], maxDepth: 0, maxNodes: 0, view: 'IDS', asOf: granted }));
      expect(asOf.nodes.map((node) => node.restricted ?? false), 'lineage as_of').to.deep.equal([true]);
      expect((await s.service.listJobs(carol, { pageSize: 10 })).jobs.map((job) => job.jobId)).to.deep.equal(['k']);
      const lineage = await lineageObjects(await s.service.getLineage(carol, { jobId: 'k', directions: ['ANCESTORS'], maxDepth: 0, maxNodes: 0, view: 'IDS' }));
      expect(lineage.nodes.map((node) => [node.restricted ?? false, node.row.jobId.startsWith('restricted-')])).to.deep.equal([[true, true]]);
      expect((await s.service.getJob(carol, 'k')).parentIds[0]).to.match(/^restricted-/);
      // Refused as any write naming a job she may not read.
      expect((await refusal(s.service.recordJob(carol, recordJobCommand({ jobId: 'k2', parentIds: ['r'] })))).reason).to.equal('PARENT_NOT_FOUND');
    });

    it('takes a job back from the later pages of a ListDependents sequence begun before, and the sequence with its root', async () => {
      await share([CAROL]);
      for (const child of ['c1', 'c2', 'c3']) await s.service.recordJob(alice, recordJobCommand({ jobId: child, parentIds: ['r'], readers: [CAROL] }));
      const page = (pageToken?: string) => s.service.listDependents(carol, { jobId: 'r', transitive: true, pageSize: 1, ...(pageToken ? { pageToken } : {}) });
      const shown = (dependents: Awaited<ReturnType<typeof page>>['dependents']) => dependents.map((d) => ('job' in d ? d.job.jobId : 'restricted'));
      const first = await page();
      expect(shown(first.dependents)).to.deep.equal(['c1']);
      await s.service.setReaderSubjects(alice, { jobId: 'c2', readers: [] });
      const second = await page(first.nextPageToken);
      expect(shown(second.dependents)).to.deep.equal(['restricted']);
      await share([]);
      expect((await refusal(page(second.nextPageToken))).code).to.equal('NOT_FOUND');
    });

    it('gives a grant, and the job is read through it at once, by GetJob and ListJobs', async () => {
      expect((await refusal(s.service.getJob(carol, 'r'))).code).to.equal('NOT_FOUND');
      const shared = await share([CAROL, 'globex/ci-bot']);
      expect(shared.readers).to.deep.equal([CAROL, 'globex/ci-bot']);
      expect((await s.service.getJob(carol, 'r')).jobId).to.equal('r');
      expect((await s.service.listJobs(carol, { pageSize: 10 })).jobs.map((job) => job.jobId)).to.deep.equal(['r']);
    });

    it('changes the etag with the grants, and nothing for the same grants in another order', async () => {
      const before = await stored('r');
      const shared = await share([CAROL, 'globex/ci-bot']);
      expect(shared.etag).to.not.equal(before.etag);
      const again = await share(['globex/ci-bot', CAROL]);
      expect(again.etag).to.equal(shared.etag);
      expect(again.readers).to.deep.equal([CAROL, 'globex/ci-bot']);
      expect(await stored('r')).to.include({ status: 'SUCCEEDED', cacheState: 'FRESH', etag: shared.etag });
    });

    it('refuses an etag the job no longer has, ABORTED, and writes nothing; takes the one it has', async () => {
      const { etag } = await stored('r');
      await share([CAROL]);
      const error = await refusal(share([], etag));
      expect([error.code, error.reason]).to.deep.equal(['ABORTED', 'ETAG_MISMATCH']);
      expect((await stored('r')).readers).to.deep.equal([CAROL]);
      await share([], (await stored('r')).etag);
      expect((await stored('r')).readers).to.deep.equal([]);
    });

    it('is for the owner only: another submitter and an admin of its tenant are refused, a grantee too, and one who may not read it is told it does not exist', async () => {
      await share([CAROL]);
      for (const caller of [bob, admin, principal('acme', 'carol', ['admin'])]) {
        expect((await refusal(s.service.setReaderSubjects(caller, { jobId: 'r', readers: [] }))).code, caller.subject).to.equal('PERMISSION_DENIED');
      }
      const stranger = principal('acme', 'mallory');
      const hidden = await refusal(s.service.setReaderSubjects(stranger, { jobId: 'r', readers: ['acme/mallory'] }));
      const missing = await refusal(s.service.setReaderSubjects(stranger, { jobId: 'nowhere', readers: ['acme/mallory'] }));
      expect([hidden.code, hidden.reason]).to.deep.equal([missing.code, missing.reason]);
      expect(hidden.code).to.equal('NOT_FOUND');
      // The role is checked before anything is looked up.
      const reader = principal('lab', 'alice', ['reader']);
      expect((await refusal(s.service.setReaderSubjects(reader, { jobId: 'nowhere', readers: [] }))).code).to.equal('PERMISSION_DENIED');
      expect((await stored('r')).readers).to.deep.equal([CAROL]);
    });

    it('refuses grants that are not grants, too many of them, and a bad job id, naming each field', async () => {
      const fields = async (command: Parameters<typeof s.service.setReaderSubjects>[1]) =>
        (await refusal(s.service.setReaderSubjects(alice, command))).details.fieldViolations!.map((v) => v.field);
      expect(await fields({ jobId: 'r', readers: [CAROL, 'carol', '/x', 'acme/'] })).to.deep.equal(['reader_subjects[1]', 'reader_subjects[2]', 'reader_subjects[3]']);
      expect(await fields({ jobId: 'r', readers: [CAROL, 'globex/ci-bot', CAROL] })).to.deep.equal(['reader_subjects[2]']);
      expect(await fields({ jobId: 'r', readers: Array.from({ length: 101 }, (_, i) => `acme/s${i}`) })).to.deep.equal(['reader_subjects']);
      expect(await fields({ jobId: '', readers: [] })).to.deep.equal(['job_id']);
      expect(await fields({ jobId: 'r', readers: [], etag: 'x'.repeat(129) })).to.deep.equal(['etag']);
      expect((await stored('r')).readers).to.deep.equal([]);
    });

    it("runs no job of the grantee's on the job once the grant is taken back, from the cache neither, and what waits on it fails", async () => {
      await share([CAROL]);
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p', status: 'RUNNING', outputHash: undefined, readers: [CAROL] }));
      // One run while she may read r, whose result the cache would serve to the same definition on the same inputs.
      await s.service.submitJob(carol, submitJobCommand('m0', { parentIds: ['r'] }));
      await run('m0');
      expect(await stored('m0')).to.include({ status: 'SUCCEEDED' });
      await s.service.submitJob(carol, submitJobCommand('m1', { parentIds: ['r'] }));
      await s.service.submitJob(carol, submitJobCommand('w', { parentIds: ['p'] }));
      await s.service.submitJob(carol, submitJobCommand('after-m1', { parentIds: ['m1'] }));
      await share([]);
      await s.service.setReaderSubjects(alice, { jobId: 'p', readers: [] });
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'p', outputHash: undefined, output: { secret: 'alice' } }));
      for (const jobId of ['m1', 'w']) {
        await run(jobId);
        const job = await s.service.getJob(carol, jobId);
        expect(job, jobId).to.deep.include({ status: 'FAILED' });
        expect(job.result, jobId).to.equal(undefined);
        // No hash of the outputs it may no longer read either (a claim would have written one).
        expect(job.inputHash, jobId).to.equal('');
        expect(job.error!.reason, jobId).to.equal('PARENT_NOT_READABLE');
        expect(job.error!.message, jobId).to.equal("parent_job_ids[0] may no longer be read by this job's submitter, so the job was not run on its output");
        expect(job.error!.dependencyJobId, jobId).to.match(/^restricted-/);
      }
      expect((await stored('after-m1')).error?.reason).to.equal('DEPENDENCY_FAILED');
    });

    it("waits for a submitted job to finish: until then its record is the worker pool's", async () => {
      await s.service.submitJob(alice, submitJobCommand('q'));
      const error = await refusal(s.service.setReaderSubjects(alice, { jobId: 'q', readers: [CAROL] }));
      expect([error.code, error.reason]).to.deep.equal(['FAILED_PRECONDITION', 'NOT_FINISHED']);
      await run('q');
      expect(await stored('q')).to.include({ status: 'SUCCEEDED' });
      expect((await s.service.setReaderSubjects(alice, { jobId: 'q', readers: [CAROL] })).readers).to.deep.equal([CAROL]);
    });

    it('writes anew a list that RecordJob stored with repeats, given once each', async () => {
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'twice', readers: [CAROL, CAROL] }));
      const before = await stored('twice');
      const shared = await s.service.setReaderSubjects(alice, { jobId: 'twice', readers: [CAROL] });
      expect([shared.readers, shared.etag === before.etag]).to.deep.equal([[CAROL], false]);
    });

    it('decides again on a write that lands between its read and its own, and keeps that write', async () => {
      const replaceJob = store.replaceJob.bind(store);
      let raced = false;
      store.replaceJob = async (record: JobRecord, expectedEtag: string) => {
        if (!raced && record.jobId === 'r') {
          raced = true;
          await s.service.invalidateCache(alice, { jobId: 'r', dryRun: false });
        }
        return replaceJob(record, expectedEtag);
      };
      await share([CAROL]);
      expect(raced).to.equal(true);
      expect(await stored('r')).to.deep.include({ cacheState: 'STALE', readers: [CAROL] });
    });

    it('gives up ABORTED after three writes lost in a row, and with an etag refuses the first as the etag says', async () => {
      const replaceJob = store.replaceJob.bind(store);
      let races = 0;
      // Before each of its writes, another write of the job lands (a grant of the owner's).
      store.replaceJob = async (record: JobRecord, expectedEtag: string) => {
        if (record.jobId === 'r' && record.readers.includes(CAROL)) {
          races++;
          const current = await stored('r');
          await replaceJob({ ...current, readers: [`acme/racer-${races}`], etag: `race-${races}` }, current.etag);
        }
        return replaceJob(record, expectedEtag);
      };
      const gaveUp = await refusal(share([CAROL]));
      expect([gaveUp.code, gaveUp.reason, races]).to.deep.equal(['ABORTED', 'CONCURRENT_WRITE', 3]);
      const conditional = await refusal(share([CAROL], (await stored('r')).etag));
      expect([conditional.code, conditional.reason]).to.deep.equal(['ABORTED', 'ETAG_MISMATCH']);
      expect((await stored('r')).readers).to.deep.equal(['acme/racer-4']);
    });

    it('leaves the events written before as they were; those written after carry the new grants', async () => {
      await s.service.recordJob(alice, recordJobCommand({ jobId: 'shared', readers: [CAROL] }));
      await s.service.setReaderSubjects(alice, { jobId: 'shared', readers: [] });
      await s.service.invalidateCache(alice, { jobId: 'shared', dryRun: false });
      const events = (await s.events.read(undefined, 100)).filter((event) => event.jobId === 'shared');
      expect(events.map((event) => [event.type, event.readers])).to.deep.equal([
        ...events.slice(0, -1).map((event) => [event.type, [CAROL]]),
        ['cache.invalidated', []],
      ]);
      expect(events.length).to.be.greaterThan(1);
    });
  });
}
