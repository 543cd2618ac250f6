import { expect } from 'chai';
import { canRead, isReaderGrant, mayMakeStale, readerGrant, submitterOf } from '../../src/domain/access.js';
import type { RecordJobCommand } from '../../src/domain/commands.js';
import { ProvenanceError } from '../../src/domain/errors.js';
import type { JobRecord } from '../../src/domain/job.js';
import type { Principal } from '../../src/domain/principal.js';
import { updateRecordedJob } from '../../src/domain/recording.js';
import { makeJob, recordJobCommand } from '../support/job-records.js';

const olga: Principal = { subject: 'olga', tenant: 'acme', roles: ['submitter'] };
const carl: Principal = { subject: 'carl', tenant: 'acme', roles: ['submitter'] };
const ada: Principal = { subject: 'ada', tenant: 'acme', roles: ['admin'] };
const gina: Principal = { subject: 'gina', tenant: 'globex', roles: ['admin'] };
const olgaOfGlobex: Principal = { subject: 'olga', tenant: 'globex', roles: ['submitter'] };

describe('access rules', () => {
  describe('reader grants', () => {
    it('name a tenant and a subject: the tenant holds no "/", the subject may', () => {
      for (const grant of ['acme/ci-bot', 'acme/spiffe://trust/ns/x', 'a/b']) expect(isReaderGrant(grant), grant).to.equal(true);
      for (const value of ['ci-bot', '/ci-bot', 'acme/', '/', '']) expect(isReaderGrant(value), value).to.equal(false);
      expect(readerGrant({ tenant: 'acme', subject: 'svc/etl' })).to.equal('acme/svc/etl');
    });

    it('let exactly the named tenant and subject read, never a namesake elsewhere', () => {
      const job = { tenant: 'globex', readers: ['acme/ci-bot', 'initech/svc/etl'] };
      expect(canRead({ tenant: 'acme', subject: 'ci-bot' }, job)).to.equal(true);
      expect(canRead({ tenant: 'initech', subject: 'svc/etl' }, job)).to.equal(true);
      expect(canRead({ tenant: 'initech', subject: 'ci-bot' }, job)).to.equal(false);
      expect(canRead({ tenant: 'acme', subject: 'ci' }, job)).to.equal(false);
      expect(canRead({ tenant: 'globex', subject: 'anyone' }, job)).to.equal(true);
    });

    it('read an entry stored before grants named a tenant as the owner tenant’s: it shares nothing beyond it', () => {
      const legacy = { tenant: 'globex', readers: ['ci-bot'] };
      expect(canRead({ tenant: 'acme', subject: 'ci-bot' }, legacy)).to.equal(false);
      expect(canRead({ tenant: 'globex', subject: 'ci-bot' }, legacy)).to.equal(true);
    });

    it('name no principal whose tenant holds "/": "a/b" + "c" is not "a" + "b/c"', () => {
      expect(readerGrant({ tenant: 'a/b', subject: 'c' })).to.equal(undefined);
      expect(canRead({ tenant: 'a/b', subject: 'c' }, { tenant: 'x', readers: ['a/b/c'] })).to.equal(false);
      expect(canRead({ tenant: 'a', subject: 'b/c' }, { tenant: 'x', readers: ['a/b/c'] })).to.equal(true);
    });
  });

  describe('making a job STALE', () => {
    const job = makeJob({ tenant: 'acme', owner: 'olga' });

    it('is for its owner and the admins of its tenant', () => {
      expect([olga, carl, ada, gina, olgaOfGlobex].map((principal) => mayMakeStale(principal, job))).to.deep.equal([true, false, true, false, false]);
    });

    it('by a run, is its submitter’s without any role: the record does not keep them', () => {
      const runBy = (owner: string) => submitterOf(makeJob({ tenant: 'acme', owner }));
      expect(runBy('olga')).to.deep.equal({ subject: 'olga', tenant: 'acme', roles: [] });
      expect(mayMakeStale(runBy('olga'), job)).to.equal(true);
      expect(mayMakeStale(runBy('ada'), job)).to.equal(false);
    });
  });

  describe('recording an existing job again', () => {
    const now = new Date();
    const running = makeJob({ tenant: 'acme', owner: 'olga', status: 'RUNNING', readers: ['globex/bob'] });
    /** The same job, SUCCEEDED. */
    const forward = (overrides: Partial<RecordJobCommand> = {}): RecordJobCommand =>
      recordJobCommand({ jobId: running.jobId, type: running.type, payload: running.payload, provider: running.provider, parentIds: running.parentIds, ...overrides });
    const refusal = (principal: Principal, job: JobRecord, command: RecordJobCommand) => {
      try {
        updateRecordedJob(principal, job, command, now);
      } catch (error) {
        expect(error).to.be.instanceOf(ProvenanceError);
        return [(error as ProvenanceError).code, (error as ProvenanceError).reason];
      }
      return undefined;
    };

    it('moves forward for the owner and the admins of its tenant only', () => {
      expect(refusal(olga, running, forward())).to.equal(undefined);
      expect(refusal(ada, running, forward())).to.equal(undefined);
      expect(refusal(carl, running, forward())).to.deep.equal(['PERMISSION_DENIED', 'PERMISSION_DENIED']);
      expect(refusal(olgaOfGlobex, running, forward())).to.deep.equal(['PERMISSION_DENIED', 'PERMISSION_DENIED']);
    });

    it('changes the readers for the owner only; the same readers again (in any order) are no change', () => {
      expect(refusal(ada, running, forward({ readers: ['initech/eve'] }))).to.deep.equal(['PERMISSION_DENIED', 'PERMISSION_DENIED']);
      expect(refusal(ada, running, forward({ readers: ['globex/bob', 'globex/bob'] }))).to.equal(undefined);
      expect(refusal(olga, running, forward({ readers: ['initech/eve'] }))).to.equal(undefined);
    });

    it('never moves a submitted job, and tells only those who could move it', () => {
      const submitted = { ...running, origin: 'SUBMITTED' as const };
      expect(refusal(olga, submitted, forward())).to.deep.equal(['FAILED_PRECONDITION', 'NOT_RECORDABLE']);
      expect(refusal(ada, submitted, forward())).to.deep.equal(['FAILED_PRECONDITION', 'NOT_RECORDABLE']);
      expect(refusal(carl, submitted, forward())).to.deep.equal(['PERMISSION_DENIED', 'PERMISSION_DENIED']);
    });
  });
});
