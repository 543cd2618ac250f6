// The lineage viewer: draws GET /jobs/{id}/lineage as a layered DAG (laid out by
// dagre, served by this listener from the package) and keeps it current from
// GET /events. It calls only the public HTTP API, with the user's credential, so
// it shows exactly what that caller may see.
import { graphlib, layout as dagreLayout } from '/ui/lib/dagre.js';

const PAGE_PREFIX = '/ui/jobs/';
const ROOT_ID = decodeURIComponent(location.pathname.slice(PAGE_PREFIX.length));
/** The most jobs the page holds (max_nodes of its requests): enough to explore, small enough to lay out at once. */
const MAX_NODES = 1000;
/** The most hops loaded beyond the page's depth (each one request, made again when the graph reloads). */
const MAX_HOPS = 50;
/** A layer with more jobs than this draws this many and one summary node for the rest, so that it fits the screen readably. */
const LAYER_LIMIT = 5;
const NODE_WIDTH = 180;
const NODE_HEIGHT = 38;
const NODE_SEPARATION = 16;
const RANK_SEPARATION = 28;
/** The job id's font size in graph units (viewer.css, .node .label); the caption is smaller. */
const LABEL_FONT = 12;
/** Fit never shrinks a label below this many screen pixels: a graph too big for that is shown around its focus instead. */
const MIN_LABEL_PIXELS = 10;
const MIN_FIT_SCALE = MIN_LABEL_PIXELS / LABEL_FONT;
const MAX_FIT_SCALE = 1.2;
const ZOOM_LIMITS = { min: 0.05, max: 4 };
const BUTTON_ZOOM_STEP = 1.25;
/** A wheel step of 100 pixels zooms by e^0.2, about 1.22. */
const WHEEL_ZOOM_PER_PIXEL = 0.002;
const FIT_MARGIN = 24;
const RELOAD_DEBOUNCE_MS = 400;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 15_000;
const STORAGE_KEYS = { credential: 'provenance.credential', kind: 'provenance.credentialKind' };

const elements = {
  rootId: document.getElementById('root-id'),
  controls: document.getElementById('controls'),
  direction: document.getElementById('direction'),
  depth: document.getElementById('depth'),
  credential: document.getElementById('credential'),
  credentialKind: document.getElementById('credential-kind'),
  statusLine: document.getElementById('status-line'),
  searchForm: document.getElementById('search-form'),
  search: document.getElementById('search'),
  jobIds: document.getElementById('job-ids'),
  zoomIn: document.getElementById('zoom-in'),
  zoomOut: document.getElementById('zoom-out'),
  toolbar: document.getElementById('toolbar'),
  fitButton: document.getElementById('fit'),
  graph: document.getElementById('graph'),
  detailsPanel: document.getElementById('details'),
  closeDetails: document.getElementById('close-details'),
  details: document.getElementById('details-body'),
};

const state = {
  /** The lineage as loaded: nodes by id, and each one's loaded parents and children. */
  nodes: new Map(),
  parents: new Map(),
  children: new Map(),
  /** `parents:<id>` or `children:<id>`: a side of a job the user collapsed (or has not expanded yet). */
  closedSides: new Set(),
  /** Layers (by rank) the user asked to see whole rather than summarised. */
  openLayers: new Set(),
  /** Jobs a wide layer keeps drawn before any other: the search target and the path to it. */
  pinned: new Set(),
  /** `parents:<id>` or `children:<id>`: a hop loaded beyond the page's depth, in the order the user asked for them. */
  hops: new Set(),
  /** The depth the page asked for (Infinity for the server's maximum), and whether the answer was cut there. */
  loadedDepth: Infinity,
  depthCut: false,
  /** What the status line says of the answer besides the counts: restricted jobs, truncation. */
  notes: '',
  /** What is drawn: drawn id → { node or summary, x, y, rank, element }; a hidden job's drawn id is its layer's summary. */
  drawn: new Map(),
  drawnIdOf: new Map(),
  drawnEdges: [],
  /** Edges of the shown jobs that do not go down (only a cycle in data older than the cycle rule has them): not drawn. */
  cycleEdges: 0,
  bounds: undefined,
  /** screen = graph × scale + (x, y), in the SVG's pixels. */
  view: undefined,
  loading: false,
  pendingEvents: [],
  selectedId: undefined,
  reloadTimer: undefined,
  summary: '',
  live: 'connecting',
  lastCursor: undefined,
  stream: undefined,
};

// ---- HTTP ----

function credentialHeaders() {
  const credential = sessionStorage.getItem(STORAGE_KEYS.credential);
  if (!credential) return {};
  return sessionStorage.getItem(STORAGE_KEYS.kind) === 'api-key' ? { 'X-Api-Key': credential } : { Authorization: `Bearer ${credential}` };
}

/** A Google JSON error body's error ({code, status, message}), from an error answer or the last message of an event stream. */
class ApiError extends Error {
  constructor(error) {
    super(`${error.status ?? `HTTP ${error.code}`}: ${error.message ?? ''}`);
    this.status = error.status;
  }
}

const apiErrorOf = async (response) => new ApiError((await response.json().catch(() => ({}))).error ?? { code: response.status });

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json', ...credentialHeaders() } });
  if (!response.ok) throw await apiErrorOf(response);
  return response.json();
}

// ---- the model: lineage JSON (proto3 JSON mapping, defaults omitted) → nodes ----

const enumName = (value, prefix) => (value ?? '').replace(prefix, '') || 'UNSPECIFIED';

function nodeOf(lineageNode) {
  const relation = enumName(lineageNode.relation, 'LINEAGE_RELATION_');
  return {
    jobId: lineageNode.jobId,
    side: relation === 'ANCESTOR' ? 'ancestor' : relation === 'DESCENDANT' ? 'descendant' : 'root',
    depth: lineageNode.depth ?? 0,
    type: lineageNode.type ?? '',
    status: enumName(lineageNode.status, 'JOB_STATUS_'),
    cacheState: enumName(lineageNode.cacheState, 'CACHE_STATE_'),
    cached: lineageNode.job?.result?.cached === true,
    restricted: lineageNode.restricted === true,
    root: relation === 'ROOT',
    /** All its parents, loaded or not (a restricted job's are not known). */
    parentIds: lineageNode.job?.parentJobIds ?? [],
  };
}

/**
 * Adds a lineage answer's jobs and edges to what is loaded, up to MAX_NODES.
 * A hop's answer (one job's parents or children) puts its new jobs on that
 * job's side of the root, one hop further out.
 */
function addLineage(lineage, hop) {
  for (const lineageNode of [lineage.root, ...(lineage.nodes ?? [])]) {
    if (state.nodes.has(lineageNode.jobId) || state.nodes.size >= MAX_NODES) continue;
    const node = nodeOf(lineageNode);
    if (hop) Object.assign(node, { side: hop.side === 'parents' ? 'ancestor' : 'descendant', depth: hop.depth + 1 });
    state.nodes.set(node.jobId, node);
    state.parents.set(node.jobId, []);
    state.children.set(node.jobId, []);
  }
  const link = (parentId, childId) => {
    if (!state.nodes.has(parentId) || !state.nodes.has(childId) || state.parents.get(childId).includes(parentId)) return;
    state.parents.get(childId).push(parentId);
    state.children.get(parentId).push(childId);
  };
  for (const { parentJobId, childJobId } of lineage.edges ?? []) link(parentJobId, childJobId);
  // A hop's answer has only the edges at its job; a job it brings may also be the parent of others already loaded.
  if (hop) for (const node of state.nodes.values()) for (const parentId of node.parentIds) link(parentId, node.jobId);
}

/** Whether a side of a job has jobs not loaded: an ancestor's parents beyond the depth, a descendant's children where the depth cut the answer. */
function hasMore(node, side) {
  const direction = side === 'parents' ? 'ancestors' : 'descendants';
  if (!opens(node, side) || node.restricted || ![direction, 'both'].includes(elements.direction.value) || state.hops.has(sideKey(side, node.jobId))) return false;
  if (side === 'parents') return node.parentIds.some((id) => !state.nodes.has(id));
  return node.side === 'descendant' && state.depthCut && node.depth >= state.loadedDepth;
}

/** Loads one hop beyond the page's depth: the job's parents or children, as GET /jobs/{id}/lineage with max_depth 1. */
async function loadHop(key) {
  const side = key.slice(0, key.indexOf(':'));
  const node = state.nodes.get(key.slice(side.length + 1));
  const room = MAX_NODES - state.nodes.size;
  if (!node || room <= 0) return;
  const params = new URLSearchParams({ direction: side === 'parents' ? 'ancestors' : 'descendants', max_depth: '1', max_nodes: String(room), view: 'full' });
  addLineage(await getJson(`/jobs/${encodeURIComponent(node.jobId)}/lineage?${params}`), { side, depth: node.depth });
}

/** After the jobs changed: forget sides of jobs no longer loaded, offer the loaded ids to the search box, count. */
function loaded() {
  for (const key of [...state.closedSides]) if (!state.nodes.has(key.slice(key.indexOf(':') + 1))) state.closedSides.delete(key);
  elements.jobIds.replaceChildren(...[...state.nodes.values()].filter((node) => !node.restricted).map((node) => new Option(node.type, node.jobId)));
  let edges = 0;
  for (const parents of state.parents.values()) edges += parents.length;
  const full = state.nodes.size >= MAX_NODES ? ` · at most ${MAX_NODES} jobs` : '';
  state.summary = `${state.nodes.size} jobs, ${edges} edges${state.notes}${full}`;
}

// ---- what is shown: the jobs reachable from the root through open sides, hop by hop ----

const sideKey = (side, jobId) => `${side}:${jobId}`;
/** Which way a job's lineage goes on: an ancestor's through its parents, a descendant's through its children, the root's both. */
const opens = (node, side) => (side === 'parents' ? node.side !== 'descendant' : node.side !== 'ancestor');
const neighbours = (jobId, side) => (side === 'parents' ? state.parents : state.children).get(jobId) ?? [];
const beyond = (side) => (side === 'parents' ? 'ancestor' : 'descendant');

/** The root and the jobs reached from it through open sides (and, with no side to close, from an ancestor to a descendant child). */
function shownJobs() {
  const shown = new Set([ROOT_ID]);
  const queue = [ROOT_ID];
  for (let index = 0; index < queue.length; index++) {
    const jobId = queue[index];
    for (const side of ['parents', 'children']) {
      const toggled = opens(state.nodes.get(jobId), side);
      if ((toggled && state.closedSides.has(sideKey(side, jobId))) || (!toggled && side === 'parents')) continue;
      for (const next of neighbours(jobId, side)) {
        if (shown.has(next) || state.nodes.get(next).side !== beyond(side)) continue;
        shown.add(next);
        queue.push(next);
      }
    }
  }
  return shown;
}

/**
 * Layers by the longest path: an ancestor's rank is minus its longest path down
 * to the root, a descendant's its longest path from the root. Along every edge
 * the rank grows, so every edge points down, however many layers it skips.
 */
function ranksOf(shown) {
  const rank = new Map([[ROOT_ID, 0]]);
  for (const [side, toward, sign] of [['parents', 'children', -1], ['children', 'parents', 1]]) {
    const waiting = new Map();
    for (const jobId of shown) {
      if (state.nodes.get(jobId).side !== beyond(side)) continue;
      // Its shown neighbours toward the root on its own side: ranked before it (an ancestor's descendant child never is).
      waiting.set(jobId, neighbours(jobId, toward).filter((other) => shown.has(other) && (other === ROOT_ID || state.nodes.get(other).side === beyond(side))).length);
    }
    // A descendant reached only from an ancestor (through a cycle in old data) starts one layer out.
    const starts = [...waiting].filter(([, left]) => left === 0).map(([jobId]) => (rank.set(jobId, sign), jobId));
    const done = new Set([ROOT_ID, ...starts]);
    const ready = [ROOT_ID, ...starts];
    for (;;) {
      while (ready.length > 0) {
        const jobId = ready.pop();
        for (const next of neighbours(jobId, side)) {
          if (!waiting.has(next) || done.has(next)) continue;
          rank.set(next, sign * Math.max(Math.abs(rank.get(next) ?? 0), Math.abs(rank.get(jobId)) + 1));
          const left = waiting.get(next) - 1;
          waiting.set(next, left);
          if (left === 0) done.add(next), ready.push(next);
        }
      }
      // Data older than the cycle rule may hold a cycle, which this order never finishes: the job nearest the root goes on, its edges back left out.
      const [stuck] = [...waiting.keys()].filter((jobId) => !done.has(jobId) && rank.has(jobId)).sort((a, b) => state.nodes.get(a).depth - state.nodes.get(b).depth);
      if (stuck === undefined) break;
      done.add(stuck);
      ready.push(stuck);
    }
  }
  return rank;
}

/** The drawn graph: the shown jobs, a wide layer's surplus folded into one summary node per layer. */
function drawnGraph() {
  const shown = shownJobs();
  const rank = ranksOf(shown);
  const layers = new Map();
  for (const jobId of shown) {
    const layer = rank.get(jobId);
    if (!layers.has(layer)) layers.set(layer, []);
    layers.get(layer).push(state.nodes.get(jobId));
  }
  const drawn = new Map();
  const drawnIdOf = new Map();
  const keep = (node) => state.pinned.has(node.jobId) || node.jobId === state.selectedId;
  for (const [layer, members] of layers) {
    // The service's order within a depth (docs/access-model.md): readable jobs by id, then restricted ones by placeholder.
    members.sort((a, b) => Number(keep(b)) - Number(keep(a)) || a.depth - b.depth || Number(a.restricted) - Number(b.restricted) || (a.jobId < b.jobId ? -1 : 1));
    const wide = members.length > LAYER_LIMIT && !state.openLayers.has(layer);
    const drawnMembers = wide ? members.slice(0, Math.max(LAYER_LIMIT, members.filter(keep).length)) : members;
    for (const node of drawnMembers) {
      drawn.set(node.jobId, { node, rank: layer });
      drawnIdOf.set(node.jobId, node.jobId);
    }
    if (drawnMembers.length === members.length) continue;
    const summaryId = `summary:${layer}`;
    const hidden = members.slice(drawnMembers.length).map((node) => node.jobId);
    drawn.set(summaryId, { summary: { layer, hidden, total: members.length }, rank: layer });
    for (const jobId of hidden) drawnIdOf.set(jobId, summaryId);
  }
  const edges = new Map();
  let cycleEdges = 0;
  for (const child of shown) {
    for (const parent of state.parents.get(child)) {
      if (!shown.has(parent)) continue;
      // Only a cycle in old data has an edge that does not go down: it is counted, not drawn.
      if (rank.get(parent) >= rank.get(child)) cycleEdges++;
      else edges.set(`${drawnIdOf.get(parent)}\n${drawnIdOf.get(child)}`, { from: drawnIdOf.get(parent), to: drawnIdOf.get(child) });
    }
  }
  return { drawn, drawnIdOf, edges: [...edges.values()], cycleEdges };
}

// ---- layout: dagre orders the layers and places the nodes; the ranks are ours, as edge lengths ----

function layout({ drawn, edges }) {
  const graph = new graphlib.Graph();
  graph.setGraph({ rankdir: 'TB', nodesep: NODE_SEPARATION, ranksep: RANK_SEPARATION, marginx: 0, marginy: 0, ranker: (inner) => tightRanks(inner, drawn) });
  for (const [id] of drawn) graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  // Each edge exactly as long as its ranks differ: the ranks are ours, given to dagre as edge lengths.
  for (const edge of edges) graph.setEdge(edge.from, edge.to, { minlen: drawn.get(edge.to).rank - drawn.get(edge.from).rank });
  dagreLayout(graph);
  for (const [id, entry] of drawn) Object.assign(entry, { x: graph.node(id).x, y: graph.node(id).y });
  for (const edge of edges) edge.points = graph.edge(edge.from, edge.to).points;
  return { width: graph.graph().width, height: graph.graph().height };
}

/**
 * dagre's ranking step: every edge exactly its minimum length (which holds our
 * ranks, in dagre's own units), walked out from the root. It is the answer
 * dagre's default ranker (network simplex) finds too, but in linear time
 * instead of seconds on 500 jobs. Nodes dagre adds for itself go above all.
 */
function tightRanks(graph, drawn) {
  const rank = new Map([[ROOT_ID, 0]]);
  const queue = [ROOT_ID];
  for (let index = 0; index < queue.length; index++) {
    const id = queue[index];
    for (const edge of graph.outEdges(id)) if (drawn.has(edge.w) && !rank.has(edge.w)) rank.set(edge.w, rank.get(id) + graph.edge(edge).minlen), queue.push(edge.w);
    for (const edge of graph.inEdges(id)) if (drawn.has(edge.v) && !rank.has(edge.v)) rank.set(edge.v, rank.get(id) - graph.edge(edge).minlen), queue.push(edge.v);
  }
  const lowest = Math.min(...rank.values());
  for (const id of graph.nodes()) graph.node(id).rank = rank.get(id) ?? lowest - 1;
}

// ---- drawing: one SVG string, set once ----

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (text) => String(text).replace(/[&<>"']/g, (character) => ESCAPES[character]);
const shorten = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

const captionOf = (node) => shorten(`${node.type || '(no type)'} · ${node.status.toLowerCase()}`, 26);

function nodeClasses(node) {
  const classes = ['node', node.restricted ? 'restricted' : `status-${node.status}`];
  if (node.cached) classes.push('cached');
  if (node.cacheState === 'STALE') classes.push('stale');
  if (node.root) classes.push('root');
  if (node.jobId === state.selectedId) classes.push('selected');
  return classes.join(' ');
}

/** The − or + beside a job that has parents (left) or children (right) to collapse or expand. */
function toggleMarkup(node, side) {
  const around = neighbours(node.jobId, side).filter((other) => state.nodes.get(other).side === beyond(side));
  const more = hasMore(node, side);
  if (!opens(node, side) || (around.length === 0 && !more)) return '';
  const closed = more || state.closedSides.has(sideKey(side, node.jobId));
  const y = side === 'parents' ? 0 : NODE_HEIGHT;
  const action = more
    ? `load its ${side === 'parents' ? 'parents' : 'children'} beyond the depth`
    : `${closed ? 'expand' : 'collapse'} the ${around.length} ${side === 'parents' ? 'parent' : 'child'}${around.length === 1 ? '' : side === 'parents' ? 's' : 'ren'}`;
  return (
    `<g class="toggle" data-side="${side}" data-closed="${closed}" data-more="${more}" transform="translate(${NODE_WIDTH / 2},${y})" tabindex="0" role="button" aria-label="${action}">` +
    `<title>${action}</title><circle r="8"/><text y="4">${closed ? '+' : '−'}</text></g>`
  );
}

function nodeMarkup(entry) {
  const { node } = entry;
  const title = node.restricted ? 'restricted job' : `${node.jobId}\n${node.type} · ${node.status}${node.cached ? ' · cached' : ''}${node.cacheState === 'STALE' ? ' · stale' : ''}`;
  const label = node.restricted ? 'restricted' : shorten(node.jobId, 22);
  const caption = node.restricted ? '' : captionOf(node);
  return (
    `<g class="${nodeClasses(node)}" data-job-id="${escape(node.jobId)}" data-status="${node.status}" data-cache-state="${node.cacheState}" ` +
    `data-cached="${node.cached}" data-restricted="${node.restricted}" ${positionAttributes(entry)} tabindex="0" role="button">` +
    `<title>${escape(title)}</title><rect width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6"/>` +
    `<text class="label" x="10" y="16">${escape(label)}</text><text class="caption" x="10" y="31">${escape(caption)}</text>` +
    `<text class="badge" x="${NODE_WIDTH - 8}" y="24">${node.cached ? '⟳' : ''}</text>${toggleMarkup(node, 'parents')}${toggleMarkup(node, 'children')}</g>`
  );
}

function summaryMarkup(id, entry) {
  const { hidden, total } = entry.summary;
  return (
    `<g class="summary" data-summary-id="${id}" data-hidden="${hidden.length}" ${positionAttributes(entry)} tabindex="0" role="button">` +
    `<title>${hidden.length} more jobs in this layer: show all ${total}</title><rect width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6"/>` +
    `<text class="label" x="10" y="16">+${hidden.length} more jobs</text><text class="caption" x="10" y="31">show all ${total} of this layer</text></g>`
  );
}

/** The laid out centre and rank, in graph units, for the tests and anyone reading the page. */
const positionAttributes = ({ x, y, rank }) =>
  `data-x="${x}" data-y="${y}" data-rank="${rank}" transform="translate(${x - NODE_WIDTH / 2},${y - NODE_HEIGHT / 2})"`;

/** dagre's route, from the parent's border through its bend points to the child's, as a B-spline (as dagre-d3 draws it). */
function edgeMarkup(edge) {
  const points = edge.points;
  let path = `M${points[0].x},${points[0].y}`;
  if (points.length === 2) path += `L${points[1].x},${points[1].y}`;
  for (let index = 1; index < points.length - 1; index++) {
    const [a, b, c] = [points[index - 1], points[index], points[index + 1]];
    // Each stretch ends halfway to the next bend point (the last one at the child's border), its control points a third of the way.
    const end = index === points.length - 2 ? c : { x: (b.x + c.x) / 2, y: (b.y + c.y) / 2 };
    const start = index === 1 ? a : { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
    path += `C${start.x + ((b.x - start.x) * 2) / 3},${start.y + ((b.y - start.y) * 2) / 3} ${end.x + ((b.x - end.x) * 2) / 3},${end.y + ((b.y - end.y) * 2) / 3} ${end.x},${end.y}`;
  }
  return `<path data-parent="${escape(edge.from)}" data-child="${escape(edge.to)}" d="${path}"/>`;
}

const ARROWS =
  '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z"/></marker>' +
  '<marker id="arrow-on-path" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto"><path d="M0,0L10,5L0,10z"/></marker></defs>';

/** Lays out and draws what is shown; keeps the view unless there is none yet. */
function render() {
  const graph = drawnGraph();
  state.drawn = graph.drawn;
  state.drawnIdOf = graph.drawnIdOf;
  state.drawnEdges = graph.edges;
  state.cycleEdges = graph.cycleEdges;
  state.bounds = layout(graph);
  Object.assign(elements.graph.dataset, { layoutWidth: String(state.bounds.width), layoutHeight: String(state.bounds.height) });
  const groups = [];
  for (const [id, entry] of state.drawn) groups.push(entry.node ? nodeMarkup(entry) : summaryMarkup(id, entry));
  elements.graph.innerHTML = `${ARROWS}<g id="viewport"><g class="edges">${state.drawnEdges.map(edgeMarkup).join('')}</g><g class="nodes">${groups.join('')}</g></g>`;
  for (const element of elements.graph.querySelectorAll('g.node, g.summary')) state.drawn.get(element.dataset.jobId ?? element.dataset.summaryId).element = element;
  highlightPath();
  if (!state.view) fit();
  else applyView();
  showStatus();
}

function redrawNode(node) {
  const element = state.drawn.get(node.jobId)?.element;
  if (!element) return;
  element.setAttribute('class', nodeClasses(node));
  element.dataset.status = node.status;
  element.dataset.cacheState = node.cacheState;
  element.dataset.cached = String(node.cached);
  element.querySelector('.badge').textContent = node.cached ? '⟳' : '';
  element.querySelector('.caption').textContent = captionOf(node);
}

// ---- the paths between the root and the selected job ----

function reachable(from, side) {
  const seen = new Set([from]);
  const queue = [from];
  for (let index = 0; index < queue.length; index++) for (const next of neighbours(queue[index], side)) if (!seen.has(next)) seen.add(next), queue.push(next);
  return seen;
}

/** The jobs on some path between the root and the job (both included): downstream of the upper one and upstream of the lower one. */
function pathJobs(jobId) {
  const node = state.nodes.get(jobId);
  if (!node || node.root) return new Set([ROOT_ID]);
  const [upper, lower] = node.side === 'ancestor' ? [jobId, ROOT_ID] : [ROOT_ID, jobId];
  const upstream = reachable(lower, 'parents');
  return new Set([...reachable(upper, 'children')].filter((id) => upstream.has(id)));
}

function highlightPath() {
  const onPath = new Set();
  if (state.selectedId) for (const jobId of pathJobs(state.selectedId)) if (state.drawnIdOf.has(jobId)) onPath.add(state.drawnIdOf.get(jobId));
  elements.graph.classList.toggle('has-path', onPath.size > 1);
  for (const [id, entry] of state.drawn) entry.element?.classList.toggle('on-path', onPath.has(id));
  for (const path of elements.graph.querySelectorAll('.edges path')) {
    const on = onPath.has(path.dataset.parent) && onPath.has(path.dataset.child);
    path.classList.toggle('on-path', on);
    path.setAttribute('marker-end', on ? 'url(#arrow-on-path)' : 'url(#arrow)');
  }
}

// ---- pan and zoom: one transform, screen = graph × scale + translation ----

function applyView() {
  const { scale, x, y } = state.view;
  elements.graph.querySelector('#viewport')?.setAttribute('transform', `translate(${x},${y}) scale(${scale})`);
  Object.assign(elements.graph.dataset, { scale: String(scale), translateX: String(x), translateY: String(y) });
}

/** Scales by factor about a point of the SVG (in its pixels): the graph point under it stays under it. */
function zoomAbout(factor, pointX, pointY) {
  const { scale, x, y } = state.view;
  const next = Math.min(ZOOM_LIMITS.max, Math.max(ZOOM_LIMITS.min, scale * factor));
  state.view = { scale: next, x: pointX - ((pointX - x) * next) / scale, y: pointY - ((pointY - y) * next) / scale };
  applyView();
}

/** The part of the SVG below the toolbar and not under the details panel, in its pixels. */
function viewArea() {
  const { width, height } = elements.graph.getBoundingClientRect();
  const top = elements.toolbar.offsetTop + elements.toolbar.offsetHeight;
  return { top, width: width - (elements.detailsPanel.hidden ? 0 : elements.detailsPanel.offsetWidth), height: height - top };
}

/** Centres a graph point at a scale. */
function centreOn(graphX, graphY, scale) {
  const { top, width, height } = viewArea();
  state.view = { scale, x: width / 2 - graphX * scale, y: top + height / 2 - graphY * scale };
  applyView();
}

/** The whole graph if it fits with readable labels; else, at the smallest readable scale, the selected job or the root in the middle. */
function fit() {
  const { width, height } = viewArea();
  const scale = Math.min(MAX_FIT_SCALE, (width - 2 * FIT_MARGIN) / state.bounds.width, (height - 2 * FIT_MARGIN) / state.bounds.height);
  if (scale >= MIN_FIT_SCALE) {
    centreOn(state.bounds.width / 2, state.bounds.height / 2, scale);
    elements.graph.dataset.fit = 'whole';
    return;
  }
  const focus = state.drawn.get(state.drawnIdOf.get(state.selectedId)) ?? state.drawn.get(ROOT_ID);
  centreOn(focus.x, focus.y, MIN_FIT_SCALE);
  elements.graph.dataset.fit = 'part';
}

function enablePanAndZoom() {
  elements.graph.addEventListener(
    'wheel',
    (event) => {
      if (!state.view) return;
      event.preventDefault();
      const box = elements.graph.getBoundingClientRect();
      // Pixels, lines or pages: a line is about 16 pixels, a page the view's height.
      const pixels = event.deltaY * (event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? box.height : 1);
      zoomAbout(Math.exp(-pixels * WHEEL_ZOOM_PER_PIXEL), event.clientX - box.left, event.clientY - box.top);
      // Counted, so that a test can wait for each step to be handled rather than for a time.
      elements.graph.dataset.wheelSteps = String(Number(elements.graph.dataset.wheelSteps ?? 0) + 1);
    },
    { passive: false },
  );
  const zoomAtCentre = (factor) => {
    if (!state.view) return;
    const { top, width, height } = viewArea();
    zoomAbout(factor, width / 2, top + height / 2);
  };
  elements.zoomIn.addEventListener('click', () => zoomAtCentre(BUTTON_ZOOM_STEP));
  elements.zoomOut.addEventListener('click', () => zoomAtCentre(1 / BUTTON_ZOOM_STEP));
  elements.fitButton.addEventListener('click', () => state.view && fit());
  let drag;
  elements.graph.addEventListener('pointerdown', (event) => {
    if (!state.view) return;
    drag = { x: event.clientX, y: event.clientY, view: state.view, moved: false };
  });
  elements.graph.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) elements.graph.setPointerCapture(event.pointerId);
    drag.moved = true;
    state.view = { ...drag.view, x: drag.view.x + dx, y: drag.view.y + dy };
    applyView();
  });
  elements.graph.addEventListener('pointerup', () => {
    // A drag that moved is a pan, not a click on the node it ended on.
    if (drag?.moved) elements.graph.addEventListener('click', (event) => event.stopPropagation(), { capture: true, once: true });
    drag = undefined;
  });
}

// ---- expanding, collapsing, searching ----

/**
 * Collapses a side of a job, or expands it by one hop: the jobs it reveals
 * keep their own further side collapsed. A side with jobs beyond the page's
 * depth loads them first, one hop.
 */
async function toggleSide(jobId, side) {
  const key = sideKey(side, jobId);
  if (hasMore(state.nodes.get(jobId), side)) {
    if (state.hops.size >= MAX_HOPS) {
      elements.statusLine.textContent = `at most ${MAX_HOPS} hops beyond the depth: raise Depth to load more · ${state.summary}`;
      return;
    }
    state.hops.add(key);
    try {
      await loadHop(key);
    } catch (error) {
      state.hops.delete(key);
      elements.statusLine.textContent = `cannot load the hop: ${error.message} · ${state.summary}`;
      return;
    }
    loaded();
    showStatus();
    state.closedSides.delete(key);
  } else if (!state.closedSides.has(key)) state.closedSides.add(key);
  else {
    const shown = shownJobs();
    state.closedSides.delete(key);
    for (const next of neighbours(jobId, side)) if (!shown.has(next)) state.closedSides.add(sideKey(side, next));
  }
  render();
}

/** Opens the sides on one path from the root to the job, so that it is shown. */
function reveal(jobId) {
  const node = state.nodes.get(jobId);
  if (node.root) return;
  const [side, back] = node.side === 'ancestor' ? ['parents', 'children'] : ['children', 'parents'];
  const cameFrom = new Map([[jobId, undefined]]);
  const queue = [jobId];
  for (let index = 0; index < queue.length && !cameFrom.has(ROOT_ID); index++) {
    for (const next of neighbours(queue[index], back)) {
      if (cameFrom.has(next) || (next !== ROOT_ID && state.nodes.get(next).side !== node.side)) continue;
      cameFrom.set(next, queue[index]);
      queue.push(next);
    }
  }
  for (let step = ROOT_ID; step !== jobId && step !== undefined; step = cameFrom.get(step)) state.closedSides.delete(sideKey(side, step));
}

function findJob(query) {
  const text = query.trim().toLowerCase();
  if (!text) return undefined;
  if (state.nodes.has(query.trim())) return query.trim();
  const matches = [...state.nodes.values()].filter((node) => !node.restricted && (node.jobId.toLowerCase().includes(text) || node.type.toLowerCase().includes(text)));
  matches.sort((a, b) => Number(state.drawn.has(b.jobId)) - Number(state.drawn.has(a.jobId)) || a.depth - b.depth);
  return matches[0]?.jobId;
}

/** Shows the job (opening what hides it), selects it, and centres it at a readable scale. */
function jumpTo(query) {
  const jobId = findJob(query);
  if (!jobId) {
    elements.statusLine.textContent = `no job matches “${query}” · ${state.summary}`;
    return;
  }
  reveal(jobId);
  state.pinned = pathJobs(jobId);
  select(jobId);
  render();
  const entry = state.drawn.get(jobId);
  centreOn(entry.x, entry.y, Math.max(state.view.scale, MIN_FIT_SCALE));
  entry.element.focus({ preventScroll: true });
}

// ---- the details panel ----

function closeDetails() {
  elements.detailsPanel.hidden = true;
  state.drawn.get(state.selectedId)?.element?.classList.remove('selected');
  state.selectedId = undefined;
  highlightPath();
}

function select(jobId) {
  state.drawn.get(state.selectedId)?.element?.classList.remove('selected');
  state.selectedId = jobId;
  state.drawn.get(jobId)?.element?.classList.add('selected');
  highlightPath();
  showDetails(jobId);
  keepInView(jobId);
}

/** Pans, as little as it takes, so that the job is not under the details panel (or off the view). */
function keepInView(jobId) {
  const entry = state.drawn.get(jobId);
  if (!entry || !state.view) return;
  const { top, width, height } = viewArea();
  const { scale, x, y } = state.view;
  const overshoot = (low, high, start, end) => (high > end - FIT_MARGIN ? end - FIT_MARGIN - high : low < start + FIT_MARGIN ? start + FIT_MARGIN - low : 0);
  const dx = overshoot((entry.x - NODE_WIDTH / 2) * scale + x, (entry.x + NODE_WIDTH / 2) * scale + x, 0, width);
  const dy = overshoot((entry.y - NODE_HEIGHT / 2) * scale + y, (entry.y + NODE_HEIGHT / 2) * scale + y, top, top + height);
  if (dx === 0 && dy === 0) return;
  state.view = { scale, x: x + dx, y: y + dy };
  applyView();
}

function showDetails(jobId) {
  const node = state.nodes.get(jobId);
  if (!node) return;
  elements.detailsPanel.hidden = false;
  if (node.restricted) {
    elements.details.innerHTML = '<h2>restricted</h2><p>You may not read this job; it stands for one job the lineage passes through.</p>';
    return;
  }
  elements.details.innerHTML = `<h2>${escape(jobId)}</h2><p class="hint">loading…</p>`;
  getJson(`/jobs/${encodeURIComponent(jobId)}/provenance`).then(
    (job) => state.selectedId === jobId && (elements.details.innerHTML = provenanceMarkup(job)),
    (error) => state.selectedId === jobId && (elements.details.innerHTML = `<h2>${escape(jobId)}</h2><p class="error">${escape(error.message)}</p>`),
  );
}

function provenanceMarkup(job) {
  const provider = job.provider ? [job.provider.id, job.provider.model, job.provider.version].filter(Boolean).join(' / ') : '';
  const parents = (job.parentJobIds ?? []).map((id) => `<a href="${PAGE_PREFIX}${encodeURIComponent(id)}">${escape(id)}</a>`).join('<br>');
  const labels = Object.entries(job.labels ?? {}).map(([key, value]) => `${escape(key)}=${escape(value)}`).join('<br>');
  const cached = job.result?.cached ? `yes${job.result.cachedFromJobId ? `, from ${escape(job.result.cachedFromJobId)}` : ''}` : 'no';
  const rows = [
    ['type', escape(job.type ?? '')],
    ['status', escape(enumName(job.status, 'JOB_STATUS_'))],
    ['cache state', escape(enumName(job.cacheState, 'CACHE_STATE_'))],
    ['cached', cached],
    ['provider', escape(provider)],
    ['definition hash', `<code>${escape(job.definitionHash ?? '')}</code>`],
    ['input hash', `<code>${escape(job.inputHash ?? '')}</code>`],
    ['output hash', `<code>${escape(job.result?.outputHash ?? '')}</code>`],
    ['created', escape(job.createTime ?? '')],
    ['started', escape(job.startTime ?? '')],
    ['completed', escape(job.completeTime ?? '')],
    ['duration', escape(job.duration ?? '')],
    ['parents', parents],
    ['labels', labels],
    ['error', job.error ? escape(`${job.error.reason ?? ''}: ${job.error.message ?? ''}`) : ''],
    ['owner', escape([job.tenant, job.owner].filter(Boolean).join(' / '))],
  ];
  const list = rows
    .filter(([, value]) => value !== '' && value !== '<code></code>')
    .map(([name, value]) => `<dt>${name}</dt><dd>${value}</dd>`)
    .join('');
  return `<h2>${escape(job.jobId)}</h2><p><a href="${PAGE_PREFIX}${encodeURIComponent(job.jobId)}">open its lineage</a></p><dl class="provenance">${list}</dl>`;
}

// ---- loading ----

function showStatus() {
  const cycle = state.cycleEdges ? `${state.cycleEdges} edge${state.cycleEdges === 1 ? '' : 's'} of a cycle not drawn` : '';
  elements.statusLine.textContent = [state.summary, cycle, `live: ${state.live}`].filter(Boolean).join(' · ');
  document.body.dataset.live = state.live;
}

async function loadGraph() {
  state.loading = true;
  document.body.dataset.state = 'loading';
  const params = new URLSearchParams({ direction: elements.direction.value, max_depth: elements.depth.value || '0', max_nodes: String(MAX_NODES), view: 'full' });
  try {
    const lineage = await getJson(`/jobs/${encodeURIComponent(ROOT_ID)}/lineage?${params}`);
    const reasons = (lineage.truncationReasons ?? []).map((reason) => enumName(reason, 'TRUNCATION_REASON_'));
    Object.assign(state, { nodes: new Map(), parents: new Map(), children: new Map(), loadedDepth: Number(elements.depth.value) || Infinity, depthCut: reasons.includes('MAX_DEPTH') });
    addLineage(lineage);
    // The hops the user loaded beyond the depth, again: one that fails now is left out.
    for (const key of [...state.hops]) await loadHop(key).catch(() => state.hops.delete(key));
    const hidden = lineage.hiddenNodeCount ? `, ${lineage.hiddenNodeCount} restricted` : '';
    state.notes = `${hidden}${lineage.truncated ? ` · truncated (${reasons.map((reason) => reason.toLowerCase().replace('_', ' ')).join(', ')})` : ''}`;
    loaded();
    render();
    document.body.dataset.state = 'ready';
  } catch (error) {
    state.summary = `cannot load the lineage: ${error.message}`;
    document.body.dataset.state = 'failed';
  } finally {
    state.loading = false;
    showStatus();
  }
  const pending = state.pendingEvents;
  state.pendingEvents = [];
  for (const event of pending) applyEvent(event);
}

function scheduleReload() {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => void loadGraph(), RELOAD_DEBOUNCE_MS);
}

// ---- live events: GET /events, read as a stream so that it can carry the credential ----

function applyEvent(event) {
  if (state.loading) {
    state.pendingEvents.push(event);
    return;
  }
  const node = state.nodes.get(event.jobId);
  if (!node) {
    // A new job under a loaded one changes the descendants' side of the graph.
    const showsDescendants = elements.direction.value !== 'ancestors';
    if (showsDescendants && event.type === 'job.provenance.created' && (event.parentJobIds ?? []).some((id) => state.nodes.has(id))) scheduleReload();
    return;
  }
  if (node.restricted) return;
  node.status = enumName(event.status, 'JOB_STATUS_');
  if (event.type === 'compute.job.cached') node.cached = true;
  if (event.type === 'compute.job.cached' || event.type === 'compute.job.completed') node.cacheState = 'FRESH';
  if (event.type === 'cache.invalidated') {
    node.cacheState = 'STALE';
    // Its descendants went stale too, and their events do not say so one by one.
    scheduleReload();
  }
  redrawNode(node);
  if (state.selectedId === node.jobId) showDetails(node.jobId);
}

/** Calls onEvent with each event of a text/event-stream body, and remembers its id for resuming. */
async function readEventStream(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = [];
      let id;
      let name = 'message';
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        else if (line.startsWith('id:')) id = line.slice(3).trim();
        else if (line.startsWith('event:')) name = line.slice(6).trim();
      }
      if (data.length === 0) continue;
      const message = JSON.parse(data.join('\n'));
      // The server ended the stream (too slow, Redis lost, shutdown, an expired cursor): the last message says why.
      if (name === 'error') throw new ApiError(message.error ?? {});
      state.lastCursor = id || message.event?.cursor || state.lastCursor;
      if (message.event) onEvent(message.event);
    }
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
});

/**
 * Follows /events until aborted, resuming after the last event seen (Last-Event-ID)
 * with pauses that grow while failures repeat. Resolves firstAttempt once the
 * first subscription is open or has failed, so that the graph is read after it.
 */
function followEvents(signal, firstAttempt) {
  void (async () => {
    let pause = RECONNECT_FIRST_MS;
    while (!signal.aborted) {
      try {
        const headers = { Accept: 'text/event-stream', ...credentialHeaders(), ...(state.lastCursor ? { 'Last-Event-ID': state.lastCursor } : {}) };
        const response = await fetch('/events', { headers, signal, cache: 'no-store' });
        if (!response.ok) throw await apiErrorOf(response);
        state.live = 'connected';
        showStatus();
        firstAttempt();
        pause = RECONNECT_FIRST_MS;
        await readEventStream(response.body, applyEvent);
        state.live = 'reconnecting';
      } catch (error) {
        if (signal.aborted) return;
        state.live = `reconnecting (${error.message})`;
        if (error.status === 'OUT_OF_RANGE') {
          // The stream no longer holds the events after our cursor: start from now, and read the graph again.
          state.lastCursor = undefined;
          scheduleReload();
        }
        firstAttempt();
      }
      showStatus();
      await sleep(pause, signal);
      pause = Math.min(pause * 2, RECONNECT_MAX_MS);
    }
  })();
}

/** (Re)opens the event stream with the current credential, then reads the graph. */
async function start() {
  state.stream?.abort();
  state.stream = new AbortController();
  state.live = 'connecting';
  showStatus();
  await new Promise((resolve) => followEvents(state.stream.signal, resolve));
  await loadGraph();
}

// ---- controls ----

function readControls() {
  const query = new URLSearchParams(location.search);
  if (['both', 'ancestors', 'descendants'].includes(query.get('direction'))) elements.direction.value = query.get('direction');
  if (/^\d+$/.test(query.get('depth') ?? '')) elements.depth.value = query.get('depth');
  elements.credential.value = sessionStorage.getItem(STORAGE_KEYS.credential) ?? '';
  elements.credentialKind.value = sessionStorage.getItem(STORAGE_KEYS.kind) ?? 'bearer';
}

function keepControlsInUrl() {
  const query = new URLSearchParams({ direction: elements.direction.value, depth: elements.depth.value });
  history.replaceState(null, '', `${location.pathname}?${query}`);
}

/** A new question: everything the user opened, closed or pinned, and the view, start afresh. */
function forgetView() {
  state.view = undefined;
  state.closedSides.clear();
  state.openLayers.clear();
  state.pinned.clear();
  state.hops.clear();
}

function reloadFromControls() {
  keepControlsInUrl();
  forgetView();
  void loadGraph();
}

function onGraphAction(event) {
  const toggle = event.target.closest('g.toggle');
  if (toggle) return void toggleSide(toggle.closest('g.node').dataset.jobId, toggle.dataset.side);
  const summary = event.target.closest('g.summary');
  if (summary) {
    state.openLayers.add(state.drawn.get(summary.dataset.summaryId).rank);
    return render();
  }
  const node = event.target.closest('g.node');
  if (node) select(node.dataset.jobId);
}

elements.rootId.textContent = ROOT_ID;
document.title = `Lineage of ${ROOT_ID}`;
readControls();
enablePanAndZoom();
elements.direction.addEventListener('change', reloadFromControls);
elements.depth.addEventListener('change', reloadFromControls);
elements.controls.addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(STORAGE_KEYS.credential, elements.credential.value.trim());
  sessionStorage.setItem(STORAGE_KEYS.kind, elements.credentialKind.value);
  keepControlsInUrl();
  forgetView();
  void start();
});
elements.searchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (state.view) jumpTo(elements.search.value);
});
elements.graph.addEventListener('click', onGraphAction);
elements.closeDetails.addEventListener('click', closeDetails);
elements.graph.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' && event.key !== ' ') return;
  event.preventDefault();
  onGraphAction(event);
});
void start();
