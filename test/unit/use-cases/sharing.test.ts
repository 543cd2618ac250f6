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
    const share = (readers: string[], etag?: string) => s.service.setReaderSubjects(alice, { jobId: 'r', readers, ...(etag ? { etag } : {}) });

    it('takes a grant back from a finished job: every read of the grantee refuses it from then on', async () => {
      await share([CAROL]);
      // Carol builds on it while she may read it.
      await s.service.recordJob(carol, recordJobCommand({ jobId: 'k', parentIds: ['r'] }));
      expect((await s.service.getJob(carol, 'r')).jobId).to.equal('r');

      const revoked = await share([]);
      expect(revoked.readers).to.deep.equal([]);
      expect((await refusal(s.service.getJob(carol, 'r'))).code).to.equal('NOT_FOUND');
      expect((await refusal(s.service.getJob(carol, 'r', s.clock.now()))).code, 'as_of').to.equal('NOT_FOUND');
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

    it('gives a grant, and the job is read through it at once, in every read', async () => {
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
      expect(await fields({ jobId: 'r', readers: Array.from({ length: 101 }, (_, i) => `acme/s${i}`) })).to.deep.equal(['reader_subjects']);
      expect(await fields({ jobId: '', readers: [] })).to.deep.equal(['job_id']);
      expect(await fields({ jobId: 'r', readers: [], etag: 'x'.repeat(129) })).to.deep.equal(['etag']);
      expect((await stored('r')).readers).to.deep.equal([]);
    });

    it("waits for a submitted job to finish: until then its record is the worker pool's", async () => {
      await s.service.submitJob(alice, submitJobCommand('q'));
      const error = await refusal(s.service.setReaderSubjects(alice, { jobId: 'q', readers: [CAROL] }));
      expect([error.code, error.reason]).to.deep.equal(['FAILED_PRECONDITION', 'JOB_NOT_FINISHED']);
      await s.service.runDelivery({ jobId: 'q', finalAttempt: true, signal: new AbortController().signal });
      expect(await stored('q')).to.include({ status: 'SUCCEEDED' });
      expect((await s.service.setReaderSubjects(alice, { jobId: 'q', readers: [CAROL] })).readers).to.deep.equal([CAROL]);
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
