import { expect } from 'chai';
import { JobStatus, ReproducibilityIssueReason } from '@provenance/client';
import { FAST_EXECUTION, mongoLane, sqliteLane, waitForJob, type StoreLane } from '../support/execution.js';
import { connect } from '../support/grpc-client.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const { JOB_STATUS_SUCCEEDED: SUCCEEDED } = JobStatus;

/**
 * Cache salts across a restart (issue #16 item 5): a server whose tenant
 * salt changes (PROVENANCE_CACHE_SALTS) runs again the job whose result it
 * reused before, and never serves the old result under the new salt; a
 * request's salt (here through the REST twin) does the same.
 */
for (const makeLane of [sqliteLane, mongoLane]) {
  describe(`cache salts across a restart (${makeLane().name})`, function () {
    this.timeout(120_000);
    let lane: StoreLane;
    let server: ServerProcess | undefined;
    const start = async (env: Record<string, string> = {}) => {
      server = await startServer({ ...(await lane.env()), ...FAST_EXECUTION, ...env });
      return server;
    };

    beforeEach(() => {
      lane = makeLane();
    });
    afterEach(async () => {
      await server?.stop('SIGKILL');
      server = undefined;
      await lane.dispose();
    });

    it("runs a job again once the tenant's salt changed, and reuses a result only under the salt it was made with", async () => {
      let api = connect((await start()).address);
      const payload = { text: 'poisoned?' };
      const first = await waitForJob(api, (await api.submitJob({ type: 'echo', payload })).jobId);
      expect(first.status).to.equal(SUCCEEDED);
      const reused = await waitForJob(api, (await api.submitJob({ type: 'echo', payload })).jobId);
      expect(reused.result).to.deep.include({ cached: true, cachedFromJobId: first.jobId });
      api.close();
      await server!.stop();

      api = connect((await start({ PROVENANCE_CACHE_SALTS: JSON.stringify({ default: 'after-incident-1' }) })).address);
      const fresh = await waitForJob(api, (await api.submitJob({ type: 'echo', payload })).jobId);
      expect(fresh).to.deep.include({ status: SUCCEEDED, tenantCacheSalt: 'after-incident-1', cacheSalt: '', definitionHash: first.definitionHash, inputHash: first.inputHash });
      expect(fresh.result?.cached).to.equal(false);
      const again = await waitForJob(api, (await api.submitJob({ type: 'echo', payload })).jobId);
      expect(again.result).to.deep.include({ cached: true, cachedFromJobId: fresh.jobId });
      const report = await api.checkReproducibility({ jobId: first.jobId });
      expect(report.issues.map((issue) => issue.reason)).to.deep.equal([ReproducibilityIssueReason.REPRODUCIBILITY_ISSUE_REASON_CACHE_SALT_MISMATCH]);

      // A request's salt, through the REST twin: runs again, then is reused under that salt only.
      const post = async () => {
        const response = await fetch(`http://${server!.httpAddress}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'echo', payload, cacheSalt: 'v2' }),
        });
        expect(response.status).to.equal(200);
        return waitForJob(api, ((await response.json()) as { jobId: string }).jobId);
      };
      const salted = await post();
      expect(salted).to.deep.include({ cacheSalt: 'v2', tenantCacheSalt: 'after-incident-1' });
      expect(salted.result?.cached).to.equal(false);
      expect((await post()).result).to.deep.include({ cached: true, cachedFromJobId: salted.jobId });
      api.close();
    });
  });
}
