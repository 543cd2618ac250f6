import { expect } from 'chai';
import { readerGrant } from '../../../src/domain/access.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteProvenanceStore } from '../../../src/adapters/sqlite/sqlite-provenance-store.js';
import type { LineageQuery, ProvenanceStore } from '../../../src/domain/ports/provenance-store.js';
import type { DependentsSnapshotLimits } from '../../../src/service/dependents-snapshots.js';
import type { DependentsPage } from '../../../src/service/lineage-queries.js';
import type { Principal } from '../../../src/domain/principal.js';
import { recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';

const alice = principal('lab', 'alice');
const eve = principal('other-lab', 'eve');

/**
 * Transitive ListDependents pages over the memory adapters: a page sequence
 * walks once and reads whole records of each page only, and answers exactly
 * as one page, whether its snapshot is kept or gone.
 */
describe('use cases: transitive ListDependents page by page', () => {
  let s: MemoryService;
  let walks: LineageQuery[];

  /** root, then 24 jobs below it: every third one eve's, unshared; the others alice's, shared with eve, each below root or one of the four shared before it. */
  async function start(dependentsSnapshots?: DependentsSnapshotLimits, store?: ProvenanceStore): Promise<void> {
    s = memoryService({ dependentsSnapshots, store });
    walks = [];
    const lineage = s.store.lineage.bind(s.store);
    s.store.lineage = async (query) => (walks.push(query), lineage(query));
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'root', readers: [readerGrant(eve)!] }));
    const shared: string[] = ['root'];
    for (let i = 0; i < 24; i++) {
      const jobId = `j${String((i * 7) % 24).padStart(2, '0')}`;
      const parentIds = [shared[Math.max(0, shared.length - 1 - (i % 4))]!];
      if (i % 3 === 0) {
        await s.service.recordJob(eve, recordJobCommand({ jobId, parentIds }));
      } else {
        await s.service.recordJob(alice, recordJobCommand({ jobId, parentIds, readers: [readerGrant(eve)!] }));
        shared.push(jobId);
      }
    }
  }
  afterEach(() => s?.close());

  const list = (who: Principal, pageSize: number, pageToken?: string) => s.service.listDependents(who, { jobId: 'root', transitive: true, pageSize, pageToken });
  const shown = (page: DependentsPage) => page.dependents.map((d) => ['job' in d ? d.job.jobId : d.restrictedJobId, d.depth]);

  async function allPages(who: Principal, pageSize: number): Promise<{ dependents: unknown[]; hidden: number; pages: number }> {
    const dependents: unknown[] = [];
    let hidden = 0;
    let pages = 0;
    let token: string | undefined;
    do {
      const page = await list(who, pageSize, token);
      dependents.push(...shown(page));
      hidden += page.hiddenNodeCount;
      pages++;
      token = page.nextPageToken || undefined;
      // A token that does not move forward would page for ever.
      if (pages > 25) throw new Error(`more than 25 pages of ${pageSize} for 24 dependents`);
    } while (token);
    return { dependents, hidden, pages };
  }

  it('walks once, in the ids view, for a whole page sequence, and answers as one page', async () => {
    await start();
    for (const who of [alice, eve]) {
      const whole = await list(who, 1000);
      walks = [];
      for (const pageSize of [1, 5]) {
        const paged = await allPages(who, pageSize);
        expect(paged.dependents).to.deep.equal(shown(whole));
        expect(paged.hidden).to.equal(whole.hiddenNodeCount);
      }
      expect(walks.map((walk) => walk.projection)).to.deep.equal(['IDS', 'IDS']);
    }
    expect((await list(alice, 1000)).hiddenNodeCount).to.equal(8);
  });

  it('pages through the lineage the SQLite store builds, its columns kept as the snapshot, as through the memory store', async () => {
    await start();
    const expected: Array<[Principal, DependentsPage]> = [
      [alice, await list(alice, 1000)],
      [eve, await list(eve, 1000)],
    ];
    await s.close();
    const directory = mkdtempSync(join(tmpdir(), 'provenance-dependents-'));
    const store = SqliteProvenanceStore.open({ path: join(directory, 'jobs.db') });
    try {
      await start(undefined, store);
      await store.loading()?.done;
      walks = [];
      for (const [who, whole] of expected) {
        for (const pageSize of [1, 5, 1000]) {
          const paged = await allPages(who, pageSize);
          expect(paged.dependents, `${who.subject}, pages of ${pageSize}`).to.deep.equal(shown(whole));
          expect(paged.hidden).to.equal(whole.hiddenNodeCount);
        }
      }
      // The graph built every walk: none went to the store's recursive query.
      expect(walks).to.deep.equal([]);
    } finally {
      await s.close();
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('walks again for each page once its snapshot is gone, with the same answer', async () => {
    await start({ maxSnapshots: 1, maxJobIds: 1000, idleTtlMs: 60_000 });
    const whole = await list(eve, 1000);
    walks = [];
    // Two sequences taking turns: each one's snapshot pushes out the other's.
    const first = { dependents: [] as unknown[], token: undefined as string | undefined };
    const second = { dependents: [] as unknown[], token: undefined as string | undefined };
    let pages = 0;
    do {
      for (const sequence of [first, second]) {
        if (pages > 0 && !sequence.token) continue;
        const page = await list(eve, 4, sequence.token);
        sequence.dependents.push(...shown(page));
        sequence.token = page.nextPageToken || undefined;
      }
      pages++;
      if (pages > 7) throw new Error('more than 7 pages of 4 for 24 dependents');
    } while (first.token || second.token);
    expect(first.dependents).to.deep.equal(shown(whole));
    expect(second.dependents).to.deep.equal(shown(whole));
    // Every page but the very last walks: that one's sequence kept the snapshot of its previous page, and the other's last page kept none.
    expect(walks).to.have.length(2 * pages - 1);
  });

  it("refuses a page token of another caller, a subject of the same name in another tenant too (INVALID_ARGUMENT)", async () => {
    await start();
    const first = await list(alice, 5);
    for (const who of [eve, principal('other-lab', alice.subject)]) {
      const error = await list(who, 5, first.nextPageToken).then(
        () => expect.fail('not refused'),
        (refusal: { code?: string; details?: { fieldViolations?: Array<{ field: string }> } }) => refusal,
      );
      expect(error.code).to.equal('INVALID_ARGUMENT');
      expect(error.details?.fieldViolations?.map((v) => v.field)).to.deep.equal(['page_token']);
    }
  });

  it('keeps no snapshot larger than the cache holds, and pages by walking', async () => {
    await start({ maxSnapshots: 10, maxJobIds: 10, idleTtlMs: 60_000 });
    walks = [];
    const paged = await allPages(alice, 7);
    expect(paged.pages).to.equal(4);
    expect(paged.dependents).to.have.length(24);
    expect(walks).to.have.length(4);
  });

  it('sees the graph as of its first page, and who may read each job as of its own page', async () => {
    await start();
    const whole = await list(eve, 1000);
    const first = await list(eve, 12);
    // A job of alice's shared with eve until after the first page, which the second page holds.
    const unshared = whole.dependents.slice(12).flatMap((d) => ('job' in d && d.job.tenant === 'lab' ? [d.job.jobId] : []))[0]!;
    const stored = (await s.store.getJobs([unshared]))[0]!;
    expect(await s.store.replaceJob({ ...stored, readers: [], etag: 'unshared' }, stored.etag)).to.equal(true);
    await s.service.recordJob(alice, recordJobCommand({ jobId: 'late', parentIds: ['root'], readers: [readerGrant(eve)!] }));
    const second = await list(eve, 100, first.nextPageToken);
    expect(first.hiddenNodeCount).to.equal(0);
    expect(second.hiddenNodeCount).to.equal(1);
    const seen = [...first.dependents, ...second.dependents].map((d) => ('job' in d ? d.job.jobId : d.restrictedJobId));
    expect(seen).to.have.length(24);
    expect(seen).to.not.include.members([unshared]);
    expect(seen).to.not.include('late');
    const again = await list(eve, 100);
    expect(again.dependents.map((d) => ('job' in d ? d.job.jobId : d.restrictedJobId))).to.include('late').and.have.length(25);
  });
});
