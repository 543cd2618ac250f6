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
import { freshEtag, makeJob } from '../support/job-records.js';
import { SqliteProvenanceStore } from '../../src/adapters/sqlite/sqlite-provenance-store.js';

const { JOB_STATUS_SUCCEEDED: SUCCEEDED, JOB_STATUS_RUNNING: RUNNING, JOB_STATUS_FAILED: FAILED } = JobStatus;
/** Debian's chromium; playwright-core downloads no browser. */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
/** The viewer's own limits (viewer.js): jobs asked for, jobs drawn per layer, the smallest label at fit (screen pixels). */
const MAX_NODES = 1000;
const LAYER_LIMIT = 5;
const MIN_LABEL_PIXELS = 10;
const NODE_WIDTH = 180;

/** A lineage of 30 jobs around "user-features", with edges that skip layers and one from an ancestor straight to a descendant. */
const THIRTY_JOBS: Array<[jobId: string, type: string, parents: string[]]> = [
  ['raw-clicks', 'ingest', []],
  ['raw-views', 'ingest', []],
  ['raw-users', 'ingest', []],
  ['geo-table', 'ingest', []],
  ['calendar', 'ingest', []],
  ['clean-clicks', 'clean', ['raw-clicks']],
  ['clean-views', 'clean', ['raw-views']],
  ['sessions', 'sessionize', ['clean-clicks', 'clean-views', 'calendar']],
  ['user-profile', 'join', ['raw-users', 'geo-table']],
  ['user-features', 'featurize', ['sessions', 'user-profile', 'clean-clicks', 'geo-table']],
  ['train-ranker', 'train', ['user-features']],
  ['train-ctr', 'train', ['user-features']],
  ['train-churn', 'train', ['user-features', 'user-profile']],
  ['eval-ranker', 'evaluate', ['train-ranker']],
  ['eval-ctr', 'evaluate', ['train-ctr']],
  ['eval-churn', 'evaluate', ['train-churn']],
  ['ranker-report', 'report', ['eval-ranker', 'user-features']],
  ['ctr-report', 'report', ['eval-ctr']],
  ['churn-report', 'report', ['eval-churn']],
  ['ab-test', 'experiment', ['train-ranker', 'train-ctr']],
  ['ab-report', 'report', ['ab-test', 'ranker-report']],
  ['deploy-ranker', 'deploy', ['ab-report', 'eval-ranker']],
  ['deploy-ctr', 'deploy', ['ab-report', 'eval-ctr']],
  ['monitor-ranker', 'monitor', ['deploy-ranker']],
  ['monitor-ctr', 'monitor', ['deploy-ctr']],
  ['drift-check', 'monitor', ['monitor-ranker', 'monitor-ctr', 'user-features']],
  ['retrain-ranker', 'train', ['drift-check']],
  ['dashboard', 'publish', ['churn-report', 'ctr-report', 'ranker-report']],
  ['weekly-digest', 'publish', ['dashboard']],
  ['archive', 'archive', ['weekly-digest', 'drift-check']],
];

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** What the page laid out, as it says in its data attributes: each drawn node's centre and rank (graph units) and screen box, each edge, the view. */
interface LaidOut {
  nodes: Map<string, { x: number; y: number; rank: number; box: Box; summary: boolean }>;
  edges: Array<{ parent: string; child: string; marker: string | null }>;
  scale: number;
  view: Box;
  /** Over the graph's top left corner. */
  toolbar: Box;
}

/** Runs in the page (the tests compile without the DOM's types, so it is a string). */
const READ_LAYOUT = `(() => {
  const graph = document.getElementById('graph');
  const boxOf = (element) => {
    const { left, top, right, bottom } = element.getBoundingClientRect();
    return { left, top, right, bottom };
  };
  return {
    nodes: [...graph.querySelectorAll('g.node, g.summary')].map((group) => {
      const { jobId, summaryId, x, y, rank } = group.dataset;
      return { id: jobId ?? summaryId, x: Number(x), y: Number(y), rank: Number(rank), box: boxOf(group.querySelector('rect')), summary: summaryId !== undefined };
    }),
    edges: [...graph.querySelectorAll('.edges path')].map((path) => ({ parent: path.dataset.parent, child: path.dataset.child, marker: path.getAttribute('marker-end') })),
    scale: Number(graph.dataset.scale),
    view: boxOf(graph),
    toolbar: boxOf(document.getElementById('toolbar')),
  };
})()`;

async function laidOut(page: Page): Promise<LaidOut> {
  type Node = LaidOut['nodes'] extends Map<string, infer N> ? N : never;
  const raw = await page.evaluate<Omit<LaidOut, 'nodes'> & { nodes: Array<Node & { id: string }> }>(READ_LAYOUT);
  return { ...raw, nodes: new Map(raw.nodes.map(({ id, ...rest }) => [id, rest])) };
}

/**
 * Every edge points down with an arrowhead, in the layout and on the screen; a rank is one row, its nodes apart,
 * and never more than a layer's limit plus its summary.
 */
function expectLayered({ nodes, edges }: LaidOut): void {
  for (const { parent, child, marker } of edges) {
    const [from, to] = [nodes.get(parent)!, nodes.get(child)!];
    expect(from.rank, `${parent} → ${child}`).to.be.below(to.rank);
    expect(from.y, `${parent} → ${child}`).to.be.below(to.y);
    expect(from.box.bottom, `${parent} → ${child} on the screen`).to.be.below(to.box.top);
    expect(marker).to.match(/^url\(#arrow/);
  }
  const rows = new Map<number, Array<{ x: number; y: number }>>();
  for (const node of nodes.values()) rows.set(node.rank, [...(rows.get(node.rank) ?? []), node]);
  for (const [rank, row] of rows) {
    expect(new Set(row.map((node) => node.y)).size, `rank ${rank} is one row`).to.equal(1);
    expect(row.length, `rank ${rank}`).to.be.at.most(LAYER_LIMIT + 1);
    const xs = row.map((node) => node.x).sort((a, b) => a - b);
    for (let index = 1; index < xs.length; index++) expect(xs[index]! - xs[index - 1]!).to.be.at.least(NODE_WIDTH);
  }
}

/** The smallest label and caption on the screen, in pixels: font size times the view's scale. */
async function smallestFontPixels(page: Page): Promise<{ label: number; caption: number }> {
  return page.evaluate(`(() => {
    const scale = Number(document.getElementById('graph').dataset.scale);
    const smallest = (selector) => Math.min(...[...document.querySelectorAll(selector)].map((text) => parseFloat(getComputedStyle(text).fontSize) * scale));
    return { label: smallest('#graph text.label'), caption: smallest('#graph text.caption') };
  })()`);
}

/** The ids of the drawn jobs a selector matches, sorted. */
const drawnIds = (page: Page, selector: string) => page.locator(selector).evaluateAll((groups) => groups.map((group) => group.getAttribute('data-job-id') ?? '').sort());

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

  it('serves its page, script, style and layout library with a policy that allows same-origin scripts only, and no other file', async () => {
    for (const [path, type] of [
      ['/ui/jobs/any-job', 'text/html'],
      ['/ui/viewer.js', 'text/javascript'],
      ['/ui/viewer.css', 'text/css'],
      ['/ui/lib/dagre.js', 'text/javascript'],
    ] as const) {
      const response = await fetch(`http://${server.httpAddress}${path}`);
      expect(response.status, path).to.equal(200);
      expect(response.headers.get('content-type')).to.match(new RegExp(`^${type}`));
      expect(response.headers.get('content-security-policy')).to.include("default-src 'none'").and.include("script-src 'self';");
    }
    // The library is the package's own ES module build, from node_modules: no CDN.
    expect(await (await fetch(`http://${server.httpAddress}/ui/lib/dagre.js`)).text()).to.include('export{').and.include('layout');
    expect((await fetch(`http://${server.httpAddress}/ui/jobs/`)).status).to.equal(404);
    expect((await fetch(`http://${server.httpAddress}/ui/jobs/any-job`, { method: 'POST' })).status).to.equal(405);
    for (const probe of ['/ui/lib/', '/ui/lib/graphlib.js', '/ui/lib/dagre.esm.js.map', '/ui/lib/dagre.js/', '/ui/lib/dagre.js%00', '/ui/lib/..%2f..%2fpackage.json', '/ui/lib/%2e%2e%2fviewer.js', '/ui/package.json']) {
      expect((await fetch(`http://${server.httpAddress}${probe}`)).status, probe).to.equal(404);
    }
  });

  describe('on a 30-job lineage', () => {
    before(async () => {
      for (const [jobId, type, parentJobIds] of THIRTY_JOBS) {
        const status = jobId === 'retrain-ranker' ? RUNNING : jobId === 'eval-churn' ? FAILED : SUCCEEDED;
        const more = status === SUCCEEDED ? { outputHash: `sha256:${jobId}` } : status === FAILED ? { error: { reason: 'LOW_ACCURACY', message: 'AUC 0.61 < 0.7' } } : {};
        await api.recordJob({ jobId, type, parentJobIds, payload: { jobId }, status, ...more });
      }
    });

    it('draws a 30-job lineage top to bottom: every edge one way with an arrowhead, labels readable at fit, paths, hops and live changes', async () => {
      const page = await openViewer('/ui/jobs/user-features?direction=both&depth=10');
      expect(await page.locator('g.node').count()).to.equal(30);
      const layout = await laidOut(page);
      expectLayered(layout);
      // Longest-path layers: a job whose parents sit one and two layers above it comes below both, never beside one.
      const y = (jobId: string) => layout.nodes.get(jobId)!.y;
      expect(y('eval-ranker')).to.be.below(y('ranker-report'));
      expect(y('clean-clicks')).to.be.below(y('sessions'));
      // The list names the ancestors before the root and the descendants after it.
      const rootIndex = THIRTY_JOBS.findIndex(([jobId]) => jobId === 'user-features');
      THIRTY_JOBS.forEach(([jobId], index) => index !== rootIndex && expect(y(jobId), jobId).to.be[index < rootIndex ? 'below' : 'above'](y('user-features')));
      // Fit shows the whole graph, its labels at least MIN_LABEL_PIXELS tall on the screen.
      expect(await page.getAttribute('#graph', 'data-fit')).to.equal('whole');
      const fonts = await smallestFontPixels(page);
      expect(fonts.label).to.be.at.least(MIN_LABEL_PIXELS);
      expect(fonts.caption).to.be.at.least(MIN_LABEL_PIXELS - 1);
      for (const node of layout.nodes.values()) expect(node.box.right - node.box.left).to.be.at.least(150);

      // Clicking a job shows its provenance and lights the paths between it and the root.
      await node(page, 'deploy-ranker').click();
      await page.locator('#details dl.provenance').waitFor();
      expect(await page.locator('#details').innerText()).to.include('deploy').and.include('ab-report').and.include('sha256:deploy-ranker');
      const onPath = await drawnIds(page, 'g.node.on-path');
      expect(onPath).to.deep.equal(['ab-report', 'ab-test', 'deploy-ranker', 'eval-ranker', 'ranker-report', 'train-ctr', 'train-ranker', 'user-features']);
      expect(await page.locator('.edges path.on-path').count()).to.equal(11);
      await page.screenshot({ path: join(ARTIFACTS, 'viewer-30.png') });

      // A job partly under the panel is moved out from under it when clicked.
      const panelLeft = (await page.locator('#details').boundingBox())!.x;
      const covered = [...(await laidOut(page)).nodes].find(([, { box, summary }]) => !summary && box.right > panelLeft && box.left < panelLeft - 20);
      expect(covered, 'a job partly under the panel').to.not.equal(undefined);
      await node(page, covered![0]).locator('rect').click({ position: { x: 12, y: 20 } });
      const movedBox = (await node(page, covered![0]).locator('rect').boundingBox())!;
      expect(movedBox.x + movedBox.width).to.be.at.most(panelLeft);
      await page.click('#close-details');
      expect(await page.locator('g.node.on-path').count()).to.equal(0);
      expect(await page.locator('#details').isVisible()).to.equal(false);

      // Collapsing the root's parents hides every ancestor; expanding shows one hop, the next hop stays folded.
      await node(page, 'user-features').locator('g.toggle[data-side="parents"]').click();
      expect(await page.locator('g.node').count()).to.equal(21);
      await node(page, 'user-features').locator('g.toggle[data-side="parents"]').click();
      expect(await page.locator('g.node').count()).to.equal(25);
      expect(await node(page, 'sessions').locator('g.toggle[data-side="parents"]').getAttribute('data-closed')).to.equal('true');
      await node(page, 'sessions').locator('g.toggle[data-side="parents"]').click();
      expect(await page.locator('g.node').count()).to.equal(27);
      expectLayered(await laidOut(page));
      await page.click('#fit');

      // A status change arrives live.
      await page.waitForSelector('body[data-live="connected"]');
      await api.recordJob({ jobId: 'retrain-ranker', type: 'train', parentJobIds: ['drift-check'], payload: { jobId: 'retrain-ranker' }, status: SUCCEEDED, outputHash: 'sha256:retrained' });
      await page.waitForSelector('g.node[data-job-id="retrain-ranker"][data-status="SUCCEEDED"]');
      await page.close();
    });

    it('loads hops beyond the depth: + on a job at the edge asks for its parents or children, and a live reload keeps them', async () => {
      // The 30-job lineage of the test above, one hop deep: the root, its 4 parents and its 5 children.
      const page = await openViewer('/ui/jobs/user-features?direction=both&depth=1');
      expect(await drawnIds(page, 'g.node')).to.have.lengthOf(10);
      const hopRequests: URL[] = [];
      page.on('request', (request) => request.url().includes('/lineage') && hopRequests.push(new URL(request.url())));
      // sessions has parents beyond the depth (clean-views, calendar; clean-clicks is drawn): + loads them.
      const sessionsParents = node(page, 'sessions').locator('g.toggle[data-side="parents"]');
      expect(await sessionsParents.getAttribute('data-more')).to.equal('true');
      await sessionsParents.click();
      await node(page, 'calendar').waitFor();
      expect(await drawnIds(page, 'g.node')).to.have.lengthOf(12);
      expect(hopRequests.map((url) => [url.pathname, url.searchParams.get('direction'), url.searchParams.get('max_depth')])).to.deep.equal([['/jobs/sessions/lineage', 'ancestors', '1']]);
      // train-ranker sits where the depth cut the answer: + asks for its children.
      await node(page, 'train-ranker').locator('g.toggle[data-side="children"]').click();
      await node(page, 'ab-test').waitFor();
      expect(await drawnIds(page, 'g.node')).to.include.members(['eval-ranker', 'ab-test']);
      const layout = await laidOut(page);
      expectLayered(layout);
      // ab-test's other parent, train-ctr, was drawn already: its edge is drawn too.
      expect(layout.edges.some(({ parent, child }) => parent === 'train-ctr' && child === 'ab-test')).to.equal(true);
      // A new job under a drawn one reloads the graph: it asks for the same hops again, and draws what it drew.
      const drawnBefore = await drawnIds(page, 'g.node');
      await page.waitForSelector('body[data-live="connected"]');
      const hopAgain = page.waitForRequest((request) => request.url().includes('/jobs/train-ranker/lineage'));
      await api.recordJob({ jobId: 'ab-followup', type: 'experiment', parentJobIds: ['ab-test'], payload: {}, status: SUCCEEDED, outputHash: 'sha256:ab-followup' });
      await hopAgain;
      await page.waitForSelector('body[data-state="ready"]');
      expect(await drawnIds(page, 'g.node')).to.deep.equal(drawnBefore);
      await page.close();
    });
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
    await page.screenshot({ path: join(ARTIFACTS, 'viewer.png') });
    await page.close();
  });

  it('draws a 500-job lineage with wide layers summarised and readable labels, zooms under the cursor, finds a folded job', async () => {
    const dag = await recordWaistDag(api, 'v500', 10, 25);
    expect(dag.size).to.equal(501);
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const lineageRequests: URL[] = [];
    page.on('request', (request) => request.url().includes('/lineage') && lineageRequests.push(new URL(request.url())));
    await page.goto(`http://${server.httpAddress}/ui/jobs/${dag.middle}?direction=both&depth=20`);
    await page.waitForSelector('body[data-state="ready"]');
    // It asks for a bounded lineage, and got all of this one.
    expect(lineageRequests.map((url) => url.searchParams.get('max_nodes'))).to.deep.equal([String(MAX_NODES)]);
    expect(await page.locator('#status-line').innerText()).to.match(/^501 jobs/);

    // Each layer of 25 draws LAYER_LIMIT jobs and a summary of the rest.
    const layout = await laidOut(page);
    expectLayered(layout);
    expect(await page.locator('g.node').count()).to.equal(1 + 20 * LAYER_LIMIT);
    const summaries = page.locator('g.summary');
    expect(await summaries.count()).to.equal(20);
    expect(await summaries.first().getAttribute('data-hidden')).to.equal(String(25 - LAYER_LIMIT));
    const y = (jobId: string) => layout.nodes.get(jobId)!.y;
    expect(y(dag.ancestors[0]![0]!)).to.be.below(y(dag.ancestors.at(-1)![0]!));
    expect(y(dag.ancestors.at(-1)![0]!)).to.be.below(y(dag.middle));
    expect(y(dag.descendants[0]![0]!)).to.be.above(y(dag.middle));
    expect(y(dag.descendants.at(-1)![0]!)).to.be.above(y(dag.descendants[0]![0]!));

    // Too big to fit readably: fit keeps labels readable, around the root, which is on the screen.
    expect(await page.getAttribute('#graph', 'data-fit')).to.equal('part');
    expect((await smallestFontPixels(page)).label).to.be.at.least(MIN_LABEL_PIXELS);
    expect(await node(page, dag.middle).isVisible()).to.equal(true);
    const inView = (box: Box) => box.left >= layout.view.left && box.right <= layout.view.right && box.top >= layout.view.top && box.bottom <= layout.view.bottom;
    const underToolbar = (box: Box) => box.left < layout.toolbar.right && box.top < layout.toolbar.bottom;
    expect(inView(layout.nodes.get(dag.middle)!.box)).to.equal(true);
    await page.screenshot({ path: join(ARTIFACTS, 'viewer-500.png') });

    // Five wheel steps in, then seven out, with the cursor on a job away from the middle: the job stays under the cursor.
    const middleOf = (box: Box) => ({ x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 });
    const distance = (box: Box) => Math.hypot(middleOf(box).x - middleOf(layout.view).x, middleOf(box).y - middleOf(layout.view).y);
    const [farthest] = [...layout.nodes].filter(([, { box, summary }]) => !summary && inView(box) && !underToolbar(box)).sort(([, a], [, b]) => distance(b.box) - distance(a.box));
    expect(distance(farthest![1].box)).to.be.above(200);
    const target = node(page, farthest![0]);
    const centre = async () => {
      const box = (await target.boundingBox())!;
      return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    };
    const before = await centre();
    // Wheel events carry whole pixels: the cursor sits on the pixel nearest the job's centre.
    const cursor = { x: Math.round(before.x), y: Math.round(before.y) };
    await page.mouse.move(cursor.x, cursor.y);
    const scaleBefore = layout.scale;
    let steps = 0;
    for (const deltaY of [-120, -120, -120, -120, -120, 120, 120, 120, 120, 120, 120, 120]) {
      await page.mouse.wheel(0, deltaY);
      await page.waitForSelector(`#graph[data-wheel-steps="${++steps}"]`, { state: 'attached' });
      // The graph point under the cursor stays there: the job's centre moves away from it only by the zoom.
      const zoom = Number(await page.getAttribute('#graph', 'data-scale')) / scaleBefore;
      const after = await centre();
      expect(after.x, `after wheel step ${steps}`).to.be.closeTo(cursor.x + (before.x - cursor.x) * zoom, 0.5);
      expect(after.y, `after wheel step ${steps}`).to.be.closeTo(cursor.y + (before.y - cursor.y) * zoom, 0.5);
      if (steps === 5) expect(zoom).to.be.above(2);
    }
    const scaleAfterWheel = Number(await page.getAttribute('#graph', 'data-scale'));
    expect(scaleAfterWheel).to.be.below(scaleBefore);
    // The buttons zoom about the middle of the view; Fit comes back to the readable view.
    await page.click('#zoom-in');
    expect(Number(await page.getAttribute('#graph', 'data-scale'))).to.be.closeTo(scaleAfterWheel * 1.25, 1e-9);
    await page.click('#fit');
    expect(Number(await page.getAttribute('#graph', 'data-scale'))).to.be.closeTo(scaleBefore, 1e-9);

    // A job folded into a summary: search draws it, selects it, centres it and lights its path from the root.
    const folded = dag.descendants[3]![24]!;
    expect(await node(page, folded).count()).to.equal(0);
    await page.fill('#search', folded);
    await page.press('#search', 'Enter');
    await node(page, folded).waitFor();
    expect(await node(page, folded).getAttribute('class')).to.include('selected').and.include('on-path');
    await page.locator('#details dl.provenance').waitFor();
    expect(await page.locator('#details h2').innerText()).to.equal(folded);
    const box = (await node(page, folded).boundingBox())!;
    expect(box.x + box.width / 2).to.be.within(layout.view.left, layout.view.right);
    expect(box.y + box.height / 2).to.be.within(layout.view.top, layout.view.bottom);
    expect(await page.locator('g.node.on-path').count()).to.be.at.least(5);
    expectLayered(await laidOut(page));

    // A summary opens its layer whole (from the keyboard: it is off the screen).
    const summary = page.locator(`g.summary[data-rank="${layout.nodes.get(dag.descendants.at(-1)![0]!)!.rank}"]`);
    await summary.press('Enter');
    const lastLayer = dag.descendants.at(-1)!;
    for (const jobId of [lastLayer[0]!, lastLayer[24]!]) await node(page, jobId).waitFor();
    await page.close();
  });

  describe('on data older than the cycle rule', () => {
    let old: ServerProcess;

    before(async () => {
      // c1 → c2 → c3 → c1 (each names the one before as a parent), root a parent of c1, d a child of c3: written through the store, which never checks the lineage.
      const path = join(directory, 'old-cycle.db');
      const store = SqliteProvenanceStore.open({ path });
      try {
        const outputHashes = new Map<string, string>();
        const job = (jobId: string, parentIds: string[]) => {
          const record = makeJob({ jobId, type: 'echo', provider: { id: '', model: '', version: '' }, parentIds }, { parentOutputHashes: outputHashes });
          outputHashes.set(record.jobId, record.result!.outputHash);
          return record;
        };
        const c1 = job('c1', ['root']);
        await store.insertJobs([job('root', []), c1, job('c2', ['c1']), job('c3', ['c2']), job('d', ['c3'])]);
        expect(await store.replaceJob({ ...c1, parentIds: ['root', 'c3'], etag: freshEtag() }, c1.etag)).to.equal(true);
      } finally {
        await store.close();
      }
      old = await startServer({ PROVENANCE_SQLITE_PATH: path, ...FAST_EXECUTION });
    });
    after(() => old?.stop());

    it('draws a lineage through a cycle with every drawn edge pointing down, and says which edges it left out', async () => {
      for (const rootId of ['c1', 'c2', 'd']) {
        const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
        page.on('pageerror', (error) => pageErrors.push(error.message));
        await page.goto(`http://${old.httpAddress}/ui/jobs/${rootId}?direction=both`);
        await page.waitForSelector('body[data-state="ready"]');
        expect(await drawnIds(page, 'g.node'), rootId).to.deep.equal(['c1', 'c2', 'c3', 'd', 'root']);
        expectLayered(await laidOut(page));
        expect(await page.locator('#status-line').innerText(), rootId).to.match(/\d edges? of a cycle not drawn/);
        await page.close();
      }
    });
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
