import { expect } from 'chai';
import { ProvenanceError } from '../../../src/domain/errors.js';
import { freshEtag, makeJob } from '../../support/job-records.js';
import { insertAll } from './helpers.js';
import type { StoreSuite } from './harness.js';

/** A store whose database is gone rejects every call with UNAVAILABLE. A part of runProvenanceStoreConformance (index.ts). */
export function describeUnavailable(suite: StoreSuite): void {
  const { harness, adopt } = suite;
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
        ['lineageStep', () => store.lineageStep([record.jobId])],
        ['replaceJobs', () => store.replaceJobs([{ record: { ...record, etag: freshEtag() }, expectedEtag: record.etag }])],
        ['markStale', () => store.markStale([record.jobId], new Date())],
        [
          'findReusableResult',
          () => store.findReusableResult({ tenant: record.tenant, definitionHash: record.definitionHash, inputHash: record.inputHash, cacheKeySalt: '', excludeJobId: 'other' }),
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
}
