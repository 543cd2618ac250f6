import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { JobStatus } from '@provenance/client';
import { bearerTokens } from '../support/bearer-tokens.js';
import { FAST_EXECUTION, waitForJob } from '../support/execution.js';
import { connect, type Client } from '../support/grpc-client.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const { JOB_STATUS_SUCCEEDED: SUCCEEDED, JOB_STATUS_RUNNING: RUNNING } = JobStatus;
/** Debian's chromium; playwright-core downloads no browser. */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** The ids of a recorded "waist" DAG: layers of ancestors converging on one middle job, layers of descendants spreading from it. */
interface WaistDag {
  middle: string;
  ancestors: string[][];
  descendants: string[][];
  size: number;
}

/**
 * Records, layer by layer, width jobs per layer on each side of the middle job:
 * every ancestor has a child in the layer nearer the middle, every descendant a
 * parent there (and some two), so that the middle job's lineage is the whole DAG.
 */
async function recordWaistDag(api: Client, prefix: string, layers: number, width: number): Promise<WaistDag> {
  const record = async (jobIds: string[], parentsOf: (index: number) => string[]) => {
    // The type names the layer: a9 … a1, middle, d1 … d9.
    const requests = jobIds.map((jobId, index) => ({
      jobId,
      type: jobId.slice(prefix.length + 1).replace(/-\d+$/, ''),
      payload: { jobId },
      parentJobIds: parentsOf(index),
      status: SUCCEEDED,
      outputHash: `sha256:${jobId}`,
    }));
    for (let start = 0; start < requests.length; start += 500) await api.batchRecordJobs({ requests: requests.slice(start, start + 500) });
  };
  const layerOf = (side: string, layer: number) => Array.from({ length: width }, (_, index) => `${prefix}-${side}${layer}-${index}`);
  // Ancestors from the farthest layer in: a layer's jobs are the parents of the next one.
  const ancestors = Array.from({ length: layers }, (_, layer) => layerOf('a', layers - layer));
  await record(ancestors[0]!, () => []);
  for (let layer = 1; layer < layers; layer++) {
    const above = ancestors[layer - 1]!;
    // Each job of the layer above feeds the job at its index (or the last), so that none is left without a child.
    await record(ancestors[layer]!, (index) => above.filter((_, parentIndex) => Math.min(parentIndex, width - 1) === index || parentIndex === (index + 1) % width));
  }
  const middle = `${prefix}-middle`;
  await record([middle], () => ancestors.at(-1)!);
  const descendants: string[][] = [];
  let previous = [middle];
  for (let layer = 1; layer <= layers; layer++) {
    const jobIds = layerOf('d', layer);
    const parents = previous;
    await record(jobIds, (index) => [...new Set([parents[index % parents.length]!, parents[(index * 7 + 3) % parents.length]!])]);
    descendants.push(jobIds);
    previous = jobIds;
  }
  return { middle, ancestors, descendants, size: 1 + 2 * layers * width };
}

describe('the lineage viewer in headless Chromium', function () {
  this.timeout(180_000);
  let directory: string;
  let server: ServerProcess;
  let api: Client;
  let browser: Browser;
  const pageErrors: string[] = [];

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-viewer-'));
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), ...FAST_EXECUTION });
    api = connect(server.address);
    // Chromium's sandbox cannot start as root (containers, CI).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  });
  after(async () => {
    await browser?.close();
    api?.close();
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });
  afterEach(() => expect(pageErrors.splice(0)).to.deep.equal([]));

  /** Opens the viewer and resolves once it has drawn the lineage. */
  async function openViewer(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`http://${server.httpAddress}${path}`);
    await page.waitForSelector('body[data-state="ready"]');
    return page;
  }
  const node = (page: Page, jobId: string) => page.locator(`g.node[data-job-id="${jobId}"]`);

  it('serves its page, script and style with a policy that allows same-origin scripts only', async () => {
    for (const [path, type] of [
      ['/ui/jobs/any-job', 'text/html'],
      ['/ui/viewer.js', 'text/javascript'],
      ['/ui/viewer.css', 'text/css'],
    ] as const) {
      const response = await fetch(`http://${server.httpAddress}${path}`);
      expect(response.status, path).to.equal(200);
      expect(response.headers.get('content-type')).to.match(new RegExp(`^${type}`));
      expect(response.headers.get('content-security-policy')).to.include("default-src 'none'").and.include("script-src 'self';");
    }
    expect((await fetch(`http://${server.httpAddress}/ui/jobs/`)).status).to.equal(404);
    expect((await fetch(`http://${server.httpAddress}/ui/jobs/any-job`, { method: 'POST' })).status).to.equal(405);
  });

  it('draws a 200-node lineage, shows a clicked node’s provenance, follows a live status change, and saves a screenshot', async () => {
    const dag = await recordWaistDag(api, 'v200', 9, 11);
    expect(dag.size).to.equal(199);
    // The 200th job still runs: recording it again as SUCCEEDED moves it forward, live.
    const live = 'v200-live';
    const liveJob = { jobId: live, type: 'train', payload: { jobId: live }, parentJobIds: [dag.descendants.at(-1)![0]!] };
    expect((await api.recordJob({ ...liveJob, status: RUNNING })).status).to.equal(RUNNING);
    const page = await openViewer(`/ui/jobs/${dag.middle}?direction=both&depth=20`);

    expect(await page.locator('g.node').count()).to.equal(200);
    expect(await page.locator('.edges path').count()).to.be.greaterThan(199);
    expect(await node(page, dag.middle).getAttribute('class')).to.include('root');
    expect(await node(page, live).getAttribute('data-status')).to.equal('RUNNING');
    // Ancestors are drawn left of the middle job, descendants right of it.
    const xOf = async (jobId: string) => (await node(page, jobId).boundingBox())!.x;
    expect(await xOf(dag.ancestors[0]![0]!)).to.be.below(await xOf(dag.middle));
    expect(await xOf(dag.descendants[0]![0]!)).to.be.above(await xOf(dag.middle));

    const clicked = dag.ancestors.at(-2)![3]!;
    const job = await api.getJob({ jobId: clicked });
    await node(page, clicked).click();
    const details = page.locator('#details dl.provenance');
    await details.waitFor();
    const text = await details.innerText();
    expect(text).to.include(job.type).and.include('SUCCEEDED').and.include(job.definitionHash).and.include(`sha256:${clicked}`);
    for (const parent of job.parentJobIds) expect(text).to.include(parent);
    expect(await node(page, clicked).getAttribute('class')).to.include('selected');

    // The page reads the lineage once its subscription is open, or has failed: this waits for it open.
    await page.waitForSelector('body[data-live="connected"]');
    await api.recordJob({ ...liveJob, status: SUCCEEDED, outputHash: 'sha256:trained' });
    await page.waitForSelector(`g.node[data-job-id="${live}"][data-status="SUCCEEDED"]`);
    await page.screenshot({ path: join(ARTIFACTS, 'viewer.png') });
    await page.close();
  });

  it('marks cached, stale and failed jobs, and shows an invalidation live (the screenshot of docs/viewer.md)', async () => {
    const record = (jobId: string, type: string, parentJobIds: string[], more: Record<string, unknown>) =>
      api.recordJob({ jobId, type, parentJobIds, payload: { jobId }, status: SUCCEEDED, ...more });
    await record('raw-data', 'ingest', [], { provider: { id: 'etl', model: 'csv-loader', version: '1.4' }, outputHash: 'sha256:9f2c41' });
    await record('features', 'featurize', ['raw-data'], { output: { rows: 10000 } });
    await record('model', 'train', ['features'], { provider: { id: 'gpu-pool', model: 'xgboost' }, outputHash: 'sha256:77ab10', labels: { team: 'risk' } });
    await record('model-v2', 'train', ['features'], { provider: { id: 'gpu-pool', model: 'xgboost' }, status: RUNNING });
    const run = async (jobId: string, type: string, parentJobIds: string[], payload: Record<string, unknown> = {}) => {
      await api.submitJob({ jobId, type, parentJobIds, payload });
      return waitForJob(api, jobId);
    };
    await run('report', 'sha256', ['model']);
    expect((await run('report-again', 'sha256', ['model'])).result?.cached).to.equal(true);
    // Submitted while its parent still runs: it waits, then fails with it.
    await api.submitJob({ jobId: 'evaluate', type: 'fail', parentJobIds: ['model'], payload: { message: 'accuracy below 0.9' } });
    await run('publish', 'merge', ['report', 'evaluate']);

    const page = await openViewer('/ui/jobs/features?direction=both&depth=5');
    expect(await page.locator('g.node').count()).to.equal(8);
    expect(await node(page, 'report-again').getAttribute('data-cached')).to.equal('true');
    expect(await node(page, 'report').getAttribute('data-cached')).to.equal('false');
    expect(await node(page, 'evaluate').getAttribute('data-status')).to.equal('FAILED');
    expect(await node(page, 'model-v2').getAttribute('data-status')).to.equal('RUNNING');

    await page.waitForSelector('body[data-live="connected"]');
    await api.invalidateCache({ jobId: 'model' });
    // The event names the model only; the page reads the graph again for the descendants that went stale with it.
    for (const jobId of ['model', 'report', 'report-again']) await page.waitForSelector(`g.node[data-job-id="${jobId}"][data-cache-state="STALE"]`);
    expect(await node(page, 'features').getAttribute('data-cache-state')).to.equal('FRESH');
    await node(page, 'model').click();
    await page.locator('#details dl.provenance').waitFor();
    expect(await page.locator('#details').innerText()).to.include('xgboost').and.include('team=risk').and.include('STALE');
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-small.png') });
    await page.close();
  });

  it('draws a 2,000-node lineage', async () => {
    const dag = await recordWaistDag(api, 'v2000', 10, 100);
    expect(dag.size).to.equal(2001);
    const page = await openViewer(`/ui/jobs/${dag.middle}?direction=both&depth=20`);
    expect(await page.locator('g.node').count()).to.equal(2001);
    // Still answering: a click on a far node shows its provenance.
    const far = dag.descendants.at(-1)![99]!;
    await node(page, far).click();
    await page.locator('#details dl.provenance').waitFor();
    expect(await page.locator('#details h2').innerText()).to.equal(far);
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-2000.png') });
    await page.close();
  });

  describe('with authentication configured', () => {
    const tokens = bearerTokens();
    let secured: ServerProcess;
    const token = (sub: string, tenant: string) => tokens.token(sub, tenant, ['submitter']);

    before(async () => {
      secured = await startServer({
        PROVENANCE_SQLITE_PATH: join(directory, 'secured.db'),
        ...tokens.env,
      });
    });
    after(() => secured?.stop());

    it('asks for a credential, then draws what the caller may see, another tenant’s job as a restricted placeholder', async () => {
      const alice = connect(secured.address, { headers: { authorization: `Bearer ${await token('alice', 'acme')}` } });
      const bobToken = await token('bob', 'globex');
      const bob = connect(secured.address, { headers: { authorization: `Bearer ${bobToken}` } });
      await alice.recordJob({ jobId: 'acme-shared', type: 'raw', status: SUCCEEDED, outputHash: 'h1', readerSubjects: ['globex/bob'] });
      await alice.recordJob({ jobId: 'acme-private', type: 'private', status: SUCCEEDED, outputHash: 'h2', parentJobIds: ['acme-shared'] });
      await bob.recordJob({ jobId: 'globex-report', type: 'report', status: SUCCEEDED, outputHash: 'h3', parentJobIds: ['acme-shared'] });
      alice.close();
      bob.close();

      const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`http://${secured.httpAddress}/ui/jobs/acme-shared?direction=descendants`);
      await page.waitForSelector('body[data-state="failed"]');
      expect(await page.locator('#status-line').innerText()).to.include('UNAUTHENTICATED');

      await page.fill('#credential', bobToken);
      await page.click('button[type="submit"]');
      await page.waitForSelector('body[data-state="ready"][data-live="connected"]');
      expect(await page.locator('g.node').count()).to.equal(3);
      const placeholder = page.locator('g.node[data-restricted="true"]');
      expect(await placeholder.count()).to.equal(1);
      expect(await placeholder.getAttribute('data-job-id')).to.match(/^restricted-/);
      expect(await placeholder.locator('text.label').textContent()).to.equal('restricted');
      expect(await page.locator('g.node[data-job-id="acme-private"]').count()).to.equal(0);
      await placeholder.click();
      expect(await page.locator('#details h2').innerText()).to.equal('restricted');
      // The credential stays for the tab's session: a reload draws at once.
      await page.reload();
      await page.waitForSelector('body[data-state="ready"]');
      expect(await page.locator('g.node').count()).to.equal(3);
      await page.close();
    });
  });
});
