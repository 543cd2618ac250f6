// The lineage viewer: draws GET /jobs/{id}/lineage as a layered DAG and keeps it
// current from GET /events. It calls only the public HTTP API, with the user's
// credential, so it shows exactly what that caller may see.

const PAGE_PREFIX = '/ui/jobs/';
const ROOT_ID = decodeURIComponent(location.pathname.slice(PAGE_PREFIX.length));
const COLUMN_WIDTH = 230;
const ROW_HEIGHT = 44;
const NODE_WIDTH = 180;
const NODE_HEIGHT = 32;
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
  graph: document.getElementById('graph'),
  details: document.getElementById('details'),
};

/** What is drawn: the nodes by id (with their SVG group once drawn), and the events that arrived while a load was running. */
const state = {
  nodes: new Map(),
  loading: false,
  pendingEvents: [],
  selectedId: undefined,
  reloadTimer: undefined,
  viewBox: undefined,
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
  const depth = lineageNode.depth ?? 0;
  const relation = enumName(lineageNode.relation, 'LINEAGE_RELATION_');
  return {
    jobId: lineageNode.jobId,
    layer: relation === 'ANCESTOR' ? -depth : relation === 'DESCENDANT' ? depth : 0,
    type: lineageNode.type ?? '',
    status: enumName(lineageNode.status, 'JOB_STATUS_'),
    cacheState: enumName(lineageNode.cacheState, 'CACHE_STATE_'),
    cached: lineageNode.job?.result?.cached === true,
    restricted: lineageNode.restricted === true,
    root: relation === 'ROOT',
    y: 0,
    element: undefined,
  };
}

// ---- layout: layers by signed depth, each ordered by the barycentre of its neighbours in the layer nearer the root ----

function layout(nodes, edges) {
  const layers = new Map();
  const neighbours = new Map();
  for (const node of nodes.values()) {
    if (!layers.has(node.layer)) layers.set(node.layer, []);
    layers.get(node.layer).push(node);
    neighbours.set(node.jobId, []);
  }
  for (const edge of edges) {
    const parent = nodes.get(edge.parentJobId);
    const child = nodes.get(edge.childJobId);
    if (!parent || !child) continue;
    neighbours.get(parent.jobId).push(child);
    neighbours.get(child.jobId).push(parent);
  }
  // Nearest the root first, so that each layer is ordered against one already placed.
  const order = [...layers.keys()].sort((a, b) => Math.abs(a) - Math.abs(b) || a - b);
  const placed = new Set();
  for (const layer of order) {
    const members = layers.get(layer);
    const keyed = members.map((node, index) => {
      const inner = neighbours.get(node.jobId).filter((other) => placed.has(other.layer) && Math.abs(other.layer) < Math.abs(layer));
      const key = inner.length > 0 ? inner.reduce((sum, other) => sum + other.y, 0) / inner.length : Number.POSITIVE_INFINITY;
      return { node, key, index };
    });
    keyed.sort((a, b) => a.key - b.key || a.index - b.index);
    keyed.forEach(({ node }, index) => (node.y = (index - (keyed.length - 1) / 2) * ROW_HEIGHT));
    placed.add(layer);
  }
}

// ---- drawing: one SVG string, set once ----

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (text) => String(text).replace(/[&<>"']/g, (character) => ESCAPES[character]);
const shorten = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
const xOf = (node) => node.layer * COLUMN_WIDTH;

function nodeClasses(node) {
  const classes = ['node', node.restricted ? 'restricted' : `status-${node.status}`];
  if (node.cached) classes.push('cached');
  if (node.cacheState === 'STALE') classes.push('stale');
  if (node.root) classes.push('root');
  if (node.jobId === state.selectedId) classes.push('selected');
  return classes.join(' ');
}

function nodeMarkup(node) {
  const title = node.restricted ? 'restricted job' : `${node.jobId}\n${node.type} · ${node.status}${node.cached ? ' · cached' : ''}${node.cacheState === 'STALE' ? ' · stale' : ''}`;
  const label = node.restricted ? 'restricted' : shorten(node.type || '(no type)', 22);
  const caption = node.restricted ? '' : shorten(node.jobId, 26);
  return (
    `<g class="${nodeClasses(node)}" data-job-id="${escape(node.jobId)}" data-status="${node.status}" data-cache-state="${node.cacheState}" ` +
    `data-cached="${node.cached}" data-restricted="${node.restricted}" transform="translate(${xOf(node) - NODE_WIDTH / 2},${node.y - NODE_HEIGHT / 2})" tabindex="0" role="button">` +
    `<title>${escape(title)}</title><rect width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6"/>` +
    `<text class="label" x="8" y="14">${escape(label)}</text><text class="caption" x="8" y="27">${escape(caption)}</text>` +
    `<text class="badge" x="${NODE_WIDTH - 8}" y="20">${node.cached ? '⟳' : ''}</text></g>`
  );
}

function edgeMarkup(parent, child) {
  const x1 = xOf(parent) + NODE_WIDTH / 2;
  const x2 = xOf(child) - NODE_WIDTH / 2;
  const middle = (x1 + x2) / 2;
  return `<path d="M${x1},${parent.y}C${middle},${parent.y} ${middle},${child.y} ${x2},${child.y}"/>`;
}

function draw(nodes, edges) {
  const paths = [];
  for (const edge of edges) {
    const parent = nodes.get(edge.parentJobId);
    const child = nodes.get(edge.childJobId);
    if (parent && child) paths.push(edgeMarkup(parent, child));
  }
  const groups = [];
  for (const node of nodes.values()) groups.push(nodeMarkup(node));
  elements.graph.innerHTML = `<g class="edges">${paths.join('')}</g><g class="nodes">${groups.join('')}</g>`;
  for (const element of elements.graph.querySelectorAll('g.node')) nodes.get(element.dataset.jobId).element = element;
  if (!state.viewBox) fit(nodes);
  applyViewBox();
}

function redrawNode(node) {
  node.element.setAttribute('class', nodeClasses(node));
  node.element.dataset.status = node.status;
  node.element.dataset.cacheState = node.cacheState;
  node.element.dataset.cached = String(node.cached);
  node.element.querySelector('.badge').textContent = node.cached ? '⟳' : '';
}

// ---- pan and zoom by viewBox ----

function fit(nodes) {
  let minX = 0;
  let maxX = 0;
  let minY = 0;
  let maxY = 0;
  for (const node of nodes.values()) {
    minX = Math.min(minX, xOf(node));
    maxX = Math.max(maxX, xOf(node));
    minY = Math.min(minY, node.y);
    maxY = Math.max(maxY, node.y);
  }
  const margin = NODE_WIDTH;
  state.viewBox = { x: minX - margin, y: minY - margin / 2, width: maxX - minX + 2 * margin, height: maxY - minY + margin };
}

function applyViewBox() {
  const { x, y, width, height } = state.viewBox;
  elements.graph.setAttribute('viewBox', `${x} ${y} ${width} ${height}`);
}

/** Graph units per screen pixel (the SVG keeps its aspect ratio: the larger ratio wins). */
function unitsPerPixel() {
  const box = elements.graph.getBoundingClientRect();
  return Math.max(state.viewBox.width / box.width, state.viewBox.height / box.height);
}

function enablePanAndZoom() {
  elements.graph.addEventListener(
    'wheel',
    (event) => {
      if (!state.viewBox) return;
      event.preventDefault();
      const box = elements.graph.getBoundingClientRect();
      const scale = Math.exp(event.deltaY * 0.001);
      const units = unitsPerPixel();
      // Zoom about the pointer: the graph point under it stays under it.
      const pointX = state.viewBox.x + (event.clientX - box.left) * units;
      const pointY = state.viewBox.y + (event.clientY - box.top) * units;
      state.viewBox = {
        x: pointX - (pointX - state.viewBox.x) * scale,
        y: pointY - (pointY - state.viewBox.y) * scale,
        width: state.viewBox.width * scale,
        height: state.viewBox.height * scale,
      };
      applyViewBox();
    },
    { passive: false },
  );
  let drag;
  elements.graph.addEventListener('pointerdown', (event) => {
    if (!state.viewBox) return;
    drag = { x: event.clientX, y: event.clientY, viewBox: state.viewBox, moved: false };
  });
  elements.graph.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) elements.graph.setPointerCapture(event.pointerId);
    drag.moved = true;
    const units = unitsPerPixel();
    state.viewBox = { ...drag.viewBox, x: drag.viewBox.x - dx * units, y: drag.viewBox.y - dy * units };
    applyViewBox();
  });
  elements.graph.addEventListener('pointerup', () => {
    // A drag that moved is a pan, not a click on the node it ended on.
    if (drag?.moved) elements.graph.addEventListener('click', (event) => event.stopPropagation(), { capture: true, once: true });
    drag = undefined;
  });
}

// ---- the details panel ----

function showDetails(jobId) {
  const node = state.nodes.get(jobId);
  if (!node) return;
  state.nodes.get(state.selectedId)?.element?.classList.remove('selected');
  state.selectedId = jobId;
  node.element.classList.add('selected');
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
  elements.statusLine.textContent = [state.summary, `live: ${state.live}`].filter(Boolean).join(' · ');
  document.body.dataset.live = state.live;
}

async function loadGraph() {
  state.loading = true;
  document.body.dataset.state = 'loading';
  const params = new URLSearchParams({ direction: elements.direction.value, max_depth: elements.depth.value || '0', view: 'full' });
  try {
    const lineage = await getJson(`/jobs/${encodeURIComponent(ROOT_ID)}/lineage?${params}`);
    const nodes = new Map();
    for (const lineageNode of [lineage.root, ...(lineage.nodes ?? [])]) nodes.set(lineageNode.jobId, nodeOf(lineageNode));
    const edges = lineage.edges ?? [];
    layout(nodes, edges);
    state.nodes = nodes;
    draw(nodes, edges);
    const hidden = lineage.hiddenNodeCount ? `, ${lineage.hiddenNodeCount} restricted` : '';
    const truncated = lineage.truncated ? ` · truncated (${(lineage.truncationReasons ?? []).map((reason) => enumName(reason, 'TRUNCATION_REASON_').toLowerCase()).join(', ')})` : '';
    state.summary = `${nodes.size} jobs, ${edges.length} edges${hidden}${truncated}`;
    document.body.dataset.state = 'ready';
    if (state.selectedId && nodes.has(state.selectedId)) nodes.get(state.selectedId).element.classList.add('selected');
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
    // A new job under a drawn one changes the descendants' side of the graph.
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

function reloadFromControls() {
  keepControlsInUrl();
  state.viewBox = undefined;
  void loadGraph();
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
  state.viewBox = undefined;
  void start();
});
elements.graph.addEventListener('click', (event) => {
  const element = event.target.closest('g.node');
  if (element) showDetails(element.dataset.jobId);
});
elements.graph.addEventListener('keydown', (event) => {
  const element = event.target.closest('g.node');
  if (element && (event.key === 'Enter' || event.key === ' ')) {
    event.preventDefault();
    showDetails(element.dataset.jobId);
  }
});
void start();
