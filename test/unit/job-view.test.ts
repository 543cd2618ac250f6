import { expect } from 'chai';
import { opaqueJobId, type ReadableBy } from '../../src/domain/access.js';
import type { LoggedEvent } from '../../src/domain/job-events.js';
import { dependencyFailure } from '../../src/domain/execution.js';
import { DEFAULT_VOLATILE_KEYS } from '../../src/domain/hashing.js';
import { JobViewer, referencedJobIds, type KnownJobs } from '../../src/domain/job-view.js';
import type { JobRecord } from '../../src/domain/job.js';
import { buildLineage, lineageEdges, type LineageRow } from '../../src/domain/lineage.js';
import { checkReproducibility } from '../support/reproducibility-report.js';
import { makeJob } from '../support/job-records.js';

const KEY = Buffer.from('job-view-test-key');
const placeholder = (jobId: string) => opaqueJobId(jobId, KEY);
/** acme's carl: reads acme's jobs, and globex's that grant acme/carl. */
const carl = new JobViewer({ tenant: 'acme', subject: 'carl' }, KEY);
const acme = (jobId: string, fields: Partial<JobRecord> = {}) => makeJob({ jobId, tenant: 'acme', ...fields });
const globex = (jobId: string, fields: Partial<JobRecord> = {}) => makeJob({ jobId, tenant: 'globex', ...fields });
const knownOf = (jobs: ReadonlyArray<ReadableBy & { jobId: string }>, missing: string[] = []): KnownJobs =>
  new Map<string, ReadableBy | undefined>([...jobs.map((job) => [job.jobId, job] as const), ...missing.map((id) => [id, undefined] as const)]);

describe('job views (issue #13, item 4)', () => {
  const hidden = globex('g-hidden', { status: 'CANCELLED' });
  const shared = globex('g-shared', { readers: ['acme/carl'] });
  const own = acme('a-own');

  it('shows a record that names no hidden job as it is, the same object', () => {
    const record = acme('a-child', { parentIds: [own.jobId, shared.jobId, 'dangling'] });
    expect(carl.job(record, knownOf([own, shared], ['dangling']))).to.equal(record);
  });

  it('names each hidden job by its placeholder: parents, cached-from, the failed dependency and its message, the rerun original', () => {
    const record = acme('a-child', {
      parentIds: [own.jobId, hidden.jobId, 'dangling'],
      result: { outputHash: 'h', cached: true, cachedFromJobId: hidden.jobId },
      error: dependencyFailure(hidden),
      rerunOfJobId: hidden.jobId,
    });
    const view = carl.job(record, knownOf([own, hidden], ['dangling']));
    expect(view.parentIds).to.deep.equal([own.jobId, placeholder(hidden.jobId), 'dangling']);
    expect(view.result?.cachedFromJobId).to.equal(placeholder(hidden.jobId));
    // How the hidden job ended ("was cancelled") is its own to tell.
    expect(view.error).to.deep.equal({
      reason: 'DEPENDENCY_FAILED',
      message: `job ${placeholder(hidden.jobId)}, which this job depends on, did not succeed`,
      dependencyJobId: placeholder(hidden.jobId),
    });
    expect(view.rerunOfJobId).to.equal(placeholder(hidden.jobId));
    expect(JSON.stringify(view)).not.to.contain(hidden.jobId);
    expect(record.parentIds).to.deep.equal([own.jobId, hidden.jobId, 'dangling']);
  });

  it("replaces a hidden id in a recorded error's text where it stands as an id, not inside a longer one", () => {
    const record = acme('a-recorded', {
      status: 'FAILED',
      parentIds: [hidden.jobId],
      error: { reason: 'UPSTREAM', message: `${hidden.jobId}: bad input from ${hidden.jobId}. Not ${hidden.jobId}-2 nor x${hidden.jobId}` },
    });
    expect(carl.job(record, knownOf([hidden])).error!.message).to.equal(
      `${placeholder(hidden.jobId)}: bad input from ${placeholder(hidden.jobId)}. Not ${hidden.jobId}-2 nor x${hidden.jobId}`,
    );
  });

  it('views an event the same way', () => {
    const event: LoggedEvent = {
      cursor: '1-0',
      seq: 3,
      type: 'compute.job.failed',
      jobId: 'a-child',
      jobType: 'echo',
      status: 'FAILED',
      definitionHash: 'd',
      inputHash: 'i',
      tenant: 'acme',
      labels: {},
      readers: [],
      parentIds: [hidden.jobId, own.jobId],
      time: new Date(),
      error: dependencyFailure(hidden),
    };
    const view = carl.event(event, knownOf([hidden, own]));
    expect(view.parentIds).to.deep.equal([placeholder(hidden.jobId), own.jobId]);
    expect(view.error?.dependencyJobId).to.equal(placeholder(hidden.jobId));
    expect(JSON.stringify(view)).not.to.contain(hidden.jobId);
    const readable = { ...event, parentIds: [own.jobId], error: undefined };
    expect(carl.event(readable, knownOf([own]))).to.equal(readable);
  });

  it('views a batch of events sharing one access map per read: as they are where the map hides nothing from the caller, with placeholders where it hides something, for each caller as its own', () => {
    const event = (jobId: string, tenant: string, parentIds: string[]): LoggedEvent => ({
      ...{ cursor: '1-0', seq: 1, type: 'job.provenance.created', jobType: 'echo', status: 'QUEUED', definitionHash: 'd', inputHash: 'i' },
      ...{ jobId, tenant, labels: {}, readers: [], parentIds, time: new Date() },
    });
    const fromOwn = event('a-1', 'acme', [own.jobId]);
    const fromShared = event('a-2', 'acme', [shared.jobId, 'dangling']);
    const fromHidden = event('a-3', 'acme', [hidden.jobId]);
    // Two reads: the first names only jobs carl may read, the second also one he may not.
    const clear = knownOf([own, shared], ['dangling']);
    const withHidden = knownOf([own, hidden]);
    const batch = [fromOwn, fromShared, fromOwn, fromHidden];
    const views = carl.events(batch, [clear, clear, withHidden, withHidden]);
    expect(views[0]).to.equal(fromOwn);
    expect(views[1]).to.equal(fromShared);
    expect(views[2]).to.equal(fromOwn);
    expect(views[3]!.parentIds).to.deep.equal([placeholder(hidden.jobId)]);
    // globex's dora reads the hidden job but not acme's: the same maps hide something else from her.
    const dora = new JobViewer({ tenant: 'globex', subject: 'dora' }, KEY);
    const hiddensChild = event('g-2', 'globex', [hidden.jobId, own.jobId]);
    expect(dora.events([hiddensChild], [withHidden])[0]!.parentIds).to.deep.equal([hidden.jobId, placeholder(own.jobId)]);
    expect(carl.events([fromHidden], [withHidden])[0]!.parentIds).to.deep.equal([placeholder(hidden.jobId)]);
    expect(() => carl.events([hiddensChild], [clear])).to.throw(/may not read/);
  });

  it('refuses to show an id it was not told about, or a record the caller may not read: a read path that forgets fails instead of leaking', () => {
    expect(() => carl.job(acme('a-x', { parentIds: [hidden.jobId] }), knownOf([]))).to.throw(/without its access having been looked up/);
    expect(() => carl.job(hidden, knownOf([]))).to.throw(/may not read/);
  });

  it('names every id the record holds of other jobs', () => {
    const record = acme('a-x', { parentIds: ['p1', 'p2'], result: { outputHash: 'h', cached: true, cachedFromJobId: 'c' }, error: { reason: 'R', message: 'm', dependencyJobId: 'd' }, rerunOfJobId: 'r' });
    expect(referencedJobIds(record)).to.deep.equal(['p1', 'p2', 'c', 'd', 'r']);
  });

  it('turns hidden lineage nodes into placeholders, keeps the edges through them, and views the records of the others', () => {
    const row = (record: JobRecord): LineageRow => ({ jobId: record.jobId, parentIds: record.parentIds, tenant: record.tenant, readers: record.readers, record });
    const grandparent = acme('a-grandparent');
    const middle = globex('g-middle', { parentIds: [grandparent.jobId] });
    const root = acme('a-root', { parentIds: [middle.jobId] });
    const lineage = buildLineage(row(root), { ancestors: [row(middle), row(grandparent)] }, { maxDepth: 10, maxNodes: 10 });
    const seen = carl.lineage(lineage, knownOf([root, middle, grandparent]));
    expect(seen.hiddenNodeCount).to.equal(1);
    expect(seen.nodes.map((node) => [node.row.jobId, node.restricted ?? false])).to.deep.equal([
      [placeholder(middle.jobId), true],
      [grandparent.jobId, false],
    ]);
    expect(lineageEdges(seen)).to.deep.equal([
      { parentJobId: placeholder(middle.jobId), childJobId: root.jobId },
      { parentJobId: grandparent.jobId, childJobId: placeholder(middle.jobId) },
    ]);
    expect(seen.root.record!.parentIds).to.deep.equal([placeholder(middle.jobId)]);
    // What answers are made of: the edges, the nodes' ids and the records (rows keep the store's parent arrays, which no answer shows).
    const shown = { edges: lineageEdges(seen), nodes: seen.nodes.map((node) => node.row.jobId), records: [seen.root, ...seen.nodes.map((node) => node.row)].map((row) => row.record) };
    expect(JSON.stringify(shown)).not.to.contain(middle.jobId);
  });
});

describe('reproducibility of a job with a hidden parent (issue #13, item 6)', () => {
  it("recomputes no input hash from a hidden parent's output, and says no more than that the parent is there", () => {
    const parent = globex('g-parent', { result: { outputHash: 'sha256:hidden-output', cached: false } });
    const job = acme('a-job', { parentIds: [parent.jobId] });
    const issues = checkReproducibility({
      job,
      ancestors: [parent],
      known: new Map([[parent.jobId, parent]]),
      ancestryTruncated: false,
      volatileKeys: new Set(DEFAULT_VOLATILE_KEYS),
      hasHandler: () => true,
      tenantCacheSalt: () => undefined,
      viewer: carl,
    });
    expect(issues).to.deep.equal([{ reason: 'INPUTS_INCOMPLETE', jobId: placeholder(parent.jobId), message: 'an ancestor is restricted to the caller, so its inputs cannot be checked' }]);
  });
});
