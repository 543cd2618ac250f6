import { expect } from 'chai';
import { cacheKeySalt } from '../../../src/domain/cache-salt.js';
import { compareCodeUnits, sha256Hex } from '../../../src/domain/hashing.js';
import type { JobRecord, JobStatus } from '../../../src/domain/job.js';
import type { JobFilter, ListJobsQuery } from '../../../src/domain/ports/provenance-store.js';
import { makeJob, nextJobId } from '../../support/job-records.js';
import { insertAll, ids, sortById, uniqueTenant, uniqueGrant, walk, newestFirst, matches, shuffled } from './helpers.js';
import type { StoreSuite } from './harness.js';

/** Queries and pages: the reusable result, status and request id lookups, references, listJobs for a tenant and a reader, children. A part of runProvenanceStoreConformance (index.ts). */
export function describeQueries(suite: StoreSuite): void {
  const { use: useStore } = suite;
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
            // Newer than every unsalted result, but each under salts (domain/cache-salt.ts) of its own.
            succeeded('request-salted', at(9500), { cacheSalt: 'v2' }),
            succeeded('tenant-salted', at(9500), { tenantCacheSalt: 'v2' }),
            succeeded('both-salted', at(9500), { tenantCacheSalt: 't', cacheSalt: 'v2' }),
          ],
          5,
        ),
      );
    });

    async function found(overrides: { excludeJobId?: string; completedAfter?: Date; tenant?: string; cacheKeySalt?: string } = {}): Promise<string | undefined> {
      const result = await store().findReusableResult({ tenant, definitionHash, inputHash, cacheKeySalt: '', excludeJobId: `${tag}-nobody`, ...overrides });
      return result?.jobId;
    }

    it('finds the newest fresh success of the tenant, definition and input, whole', async () => {
      expect(await found()).to.equal(`${tag}-a`);
      const [stored] = await store().getJobs([`${tag}-a`]);
      expect(await store().findReusableResult({ tenant, definitionHash, inputHash, cacheKeySalt: '', excludeJobId: `${tag}-nobody` })).to.deep.equal(stored);
    });

    it('skips a result whose payload was redacted, however new', async () => {
      const [redacted] = await store().getJobs([`${tag}-redacted`]);
      expect(redacted).to.include({ status: 'SUCCEEDED', cacheState: 'FRESH', payloadRedacted: true });
      expect(await found({ completedAfter: at(8000) })).to.equal(undefined);
      expect(await found({ completedAfter: at(2999) })).to.equal(`${tag}-a`);
    });

    it('finds only results of the same salts, and the unsalted ones for no salt (issue #16 item 5)', async () => {
      expect(await found({ cacheKeySalt: cacheKeySalt({ cacheSalt: 'v2' }) })).to.equal(`${tag}-request-salted`);
      expect(await found({ cacheKeySalt: cacheKeySalt({ tenantCacheSalt: 'v2' }) })).to.equal(`${tag}-tenant-salted`);
      expect(await found({ cacheKeySalt: cacheKeySalt({ tenantCacheSalt: 't', cacheSalt: 'v2' }) })).to.equal(`${tag}-both-salted`);
      expect(await found({ cacheKeySalt: cacheKeySalt({ cacheSalt: 'v3' }) })).to.equal(undefined);
      expect(await found({ cacheKeySalt: cacheKeySalt({ cacheSalt: 'v2' }), excludeJobId: `${tag}-request-salted` })).to.equal(undefined);
      expect(await found()).to.equal(`${tag}-a`);
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
      expect(await store().findReusableResult({ tenant, definitionHash, inputHash: sha256Hex('unknown'), cacheKeySalt: '', excludeJobId: `${tag}-nobody` })).to.equal(undefined);
      expect(await store().findReusableResult({ tenant, definitionHash: sha256Hex('unknown'), inputHash, cacheKeySalt: '', excludeJobId: `${tag}-nobody` })).to.equal(undefined);
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
}
