import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CheckReproducibilityResponse } from '@provenance/client';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import { readerGrant } from '../../../src/domain/access.js';
import type { JobRecord } from '../../../src/domain/job.js';
import type { ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import { encodeInParts } from '../../../src/grpc/encoded-messages.js';
import { reproducibilityResponseParts } from '../../../src/grpc/mapping.js';
import type { ReproducibilityReport } from '../../../src/service/lineage-queries.js';
import { makeJob, randomDag } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { reportIssues } from '../../support/reproducibility-report.js';

/**
 * CheckReproducibility where the store builds the lineage (SQLite's graph)
 * reads the ancestors' records a part at a time as the report is written;
 * the memory store reads them all with the walk. Both report the same issues
 * in the same order, on a random DAG large enough for many parts and for the
 * records kept between parts to be dropped, with an issue of every kind;
 * and the report encoded part by part is the bytes of one encoding of it.
 */

const alice = principal('default', 'alice');
const JOBS = 6000;
/** Jobs with no handler registered: each checked one reports NO_HANDLER. */
const UNHANDLED_TYPE = 'report.render';
/** A job without issues: handled, succeeded, without parents. */
const CLEAN_ROOT = 'clean-root';

/** An issue of every kind, on jobs chosen by index; the ids of the parents that never were recorded. */
function dagWithIssues(): JobRecord[] {
  const grant = readerGrant(alice)!;
  const dag = randomDag(JOBS, 20261207, {
    maxParents: 3,
    window: 40,
    customize: (index): Partial<JobRecord> => {
      if (index % 7 === 3) return { tenant: 'other' };
      if (index % 11 === 5) return { tenant: 'other', readers: [grant] };
      if (index % 13 === 6) return { status: 'FAILED' };
      if (index % 17 === 2) return { payloadRedacted: true };
      if (index % 23 === 4) return { inputHash: 'sha256:recorded-before-a-parent-changed' };
      if (index % 29 === 8) return { cacheState: 'STALE' };
      if (index % 31 === 9) return { definitionHash: 'sha256:of-another-payload' };
      if (index % 37 === 10) return { tenantCacheSalt: 'retired' };
      return {};
    },
  });
  // Parents that never were recorded, some named by two jobs (reported once).
  const withGhosts = dag.map((job, index) => (index % 19 === 7 ? { ...job, parentIds: [...job.parentIds, `ghost-${index % 3}`] } : job));
  return [...withGhosts, makeJob({ jobId: CLEAN_ROOT, type: 'text.embed' })];
}

describe('use cases: CheckReproducibility reads the records of an ancestry the store built a part at a time', () => {
  const directory = mkdtempSync(join(tmpdir(), 'provenance-reproducibility-'));
  const dag = dagWithIssues();
  const sides: Array<{ name: string; store: ProvenanceStore; s: MemoryService; builtWalks: number }> = [];

  before(async () => {
    const stores = { SQLite: SqliteProvenanceStore.open({ path: join(directory, 'parts.db') }) as ProvenanceStore, memory: new MemoryProvenanceStore() as ProvenanceStore };
    for (const [name, store] of Object.entries(stores)) {
      const side = { name, store, s: undefined as unknown as MemoryService, builtWalks: 0 };
      const builtLineage = store.builtLineage?.bind(store);
      if (builtLineage) {
        store.builtLineage = async (query) => {
          side.builtWalks++;
          return builtLineage(query);
        };
      }
      side.s = memoryService({
        store,
        limits: { maxLineageNodes: 10_000, maxLineageDepth: 1000 },
        handlers: Object.fromEntries(['dataset.ingest', 'text.embed', 'text.summarize'].map((type) => [type, () => ({})])),
      });
      await store.insertJobs(dag);
      await store.loading()?.done;
      sides.push(side);
    }
  });
  after(async () => {
    for (const { s, store } of sides) {
      await s.close();
      await store.close();
    }
    rmSync(directory, { recursive: true, force: true });
  });

  const report = (side: (typeof sides)[number], jobId: string) => side.s.service.checkReproducibility(alice, jobId);

  it('reports what the store that reads every record with the walk reports, in the same order, on the whole ancestry and on smaller ones', async () => {
    const [sqlite, memory] = sides;
    const readable = dag.filter((job) => job.tenant === 'default' && job.jobId !== CLEAN_ROOT);
    const roots = [readable.at(-1)!, readable[Math.floor(readable.length / 2)]!, readable[40]!];
    for (const root of roots) {
      const ours = await report(sqlite!, root.jobId);
      const theirs = await report(memory!, root.jobId);
      const issues = await reportIssues(ours);
      expect(issues, root.jobId).to.deep.equal(await reportIssues(theirs));
      expect(ours.checkedAncestorCount).to.equal(theirs.checkedAncestorCount);
    }
    expect(sqlite!.builtWalks).to.equal(roots.length);
    const whole = await report(sqlite!, roots[0]!.jobId);
    // More ancestors than the records kept between parts (4,096), and an issue of every kind the DAG holds.
    expect(whole.checkedAncestorCount).to.be.greaterThan(4096);
    const reasons = new Set((await reportIssues(whole)).map((issue) => issue.reason));
    expect([...reasons].sort()).to.deep.equal(
      ['ANCESTOR_NOT_SUCCEEDED', 'CACHE_SALT_MISMATCH', 'DEFINITION_HASH_MISMATCH', 'INPUTS_INCOMPLETE', 'INPUT_HASH_MISMATCH', 'MISSING_ANCESTOR', 'NO_HANDLER', 'STALE_RESULT'].sort(),
    );
    const ghosts = (await reportIssues(await report(sqlite!, roots[0]!.jobId))).filter((issue) => issue.reason === 'MISSING_ANCESTOR').map((issue) => issue.jobId);
    expect(ghosts.sort()).to.deep.equal(['ghost-0', 'ghost-1', 'ghost-2']);
  });

  it('reports an ancestry cut by the lineage limits as truncated, last, having checked the ancestors within them', async () => {
    const root = dag.filter((job) => job.tenant === 'default' && job.jobId !== CLEAN_ROOT).at(-1)!;
    const answers: Array<{ issues: unknown[]; count: number }> = [];
    for (const side of sides) {
      const limited = memoryService({ store: side.store, limits: { maxLineageNodes: 300, maxLineageDepth: 1000 } });
      try {
        const answer = await limited.service.checkReproducibility(alice, root.jobId);
        answers.push({ issues: await reportIssues(answer), count: answer.checkedAncestorCount });
      } finally {
        await limited.close();
      }
    }
    expect(answers[0]).to.deep.equal(answers[1]);
    expect(answers[0]!.count).to.equal(300);
    expect(answers[0]!.issues.at(-1)).to.include({ reason: 'ANCESTRY_TRUNCATED', jobId: root.jobId });
  });

  it('is encoded part by part to the bytes of one encoding of the whole report, reproducible or not', async () => {
    const [sqlite] = sides;
    const oneEncoding = async (answer: ReproducibilityReport) => {
      const issues = await reportIssues(answer);
      return Buffer.from(
        CheckReproducibilityResponse.encode(
          CheckReproducibilityResponse.fromJSON({ jobId: answer.jobId, reproducible: issues.length === 0, issues: issues.map((issue) => ({ ...issue, reason: `REPRODUCIBILITY_ISSUE_REASON_${issue.reason}` })), checkedAncestorCount: answer.checkedAncestorCount }),
        ).finish(),
      );
    };
    const roots = [dag.filter((job) => job.tenant === 'default' && job.type === UNHANDLED_TYPE).at(-1)!.jobId, CLEAN_ROOT];
    let reproducible = 0;
    for (const jobId of roots) {
      const { bytes } = await encodeInParts(CheckReproducibilityResponse, reproducibilityResponseParts(await report(sqlite!, jobId)));
      expect(bytes, jobId).to.deep.equal(await oneEncoding(await report(sqlite!, jobId)));
      if (CheckReproducibilityResponse.decode(bytes).reproducible) reproducible++;
    }
    expect(reproducible).to.equal(1);
  });
});
