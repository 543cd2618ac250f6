import type { Provider } from '../job.js';
import type { LineageInParts } from '../lineage.js';
import { Utf8StringColumn } from '../utf8-strings.js';
import { wholeRecord } from './exported-jobs.js';
import { eachEdgeInSteps, eachJobInSteps, TextPieces, type RenderSteps } from './in-steps.js';
import type { RenderedDocument } from './rendered-graph.js';

/**
 * W3C PROV-JSON (Member Submission, 2013): jobs are activities, job outputs
 * entities, providers agents. Each kind of id has its own namespace, so that
 * a job, its output and a provider never share an IRI; the attributes of
 * this service have one more. `prov`, `xsd` and blank ids (`_:`) need no
 * declaration.
 */
const PREFIXES = {
  provenance: 'urn:provenance:job:',
  output: 'urn:provenance:output:',
  provider: 'urn:provenance:provider:',
  attribute: 'urn:provenance:attribute:',
};

type AttributeValue = string | { $: string; type: string };
/** Attributes as JSON.stringify writes them: an undefined one is left out. */
type Attributes = Record<string, AttributeValue | undefined>;

/** The kinds of PROV records, in the order the document lists them. */
const KINDS = ['entity', 'activity', 'agent', 'wasGeneratedBy', 'used', 'wasInformedBy', 'wasAssociatedWith'] as const;
type Kind = (typeof KINDS)[number];

/** How a kind's members are indented in the document: JSON.stringify(document, null, 2) puts them two levels in. */
const MEMBER_INDENT = '    ';

/**
 * One kind's members, written as text as they are found, in the form
 * JSON.stringify(document, null, 2) gives them: no object is kept per job
 * or edge (a whole ancestry of 714,556 jobs kept millions, whose garbage
 * collection held the calls beside the export for hundreds of ms).
 */
class KindText {
  readonly text = new TextPieces();
  size = 0;

  add(key: string, value: Attributes): void {
    const member = `${JSON.stringify(key)}: ${JSON.stringify(value, null, 2).replace(/\n/g, `\n${MEMBER_INDENT}`)}`;
    this.text.write(`${this.size === 0 ? '' : ','}\n${MEMBER_INDENT}${member}`);
    this.size++;
  }

  /** A relation, keyed by its blank-node id, numbered in the order found: `_:used1`, `_:used2`, ... */
  addRelation(kind: string, relation: Attributes): void {
    this.add(`_:${kind}${this.size + 1}`, relation);
  }
}

/**
 * In steps (in-steps.ts): the jobs (their records read a step at a time
 * with recordsInParts, eachJobInSteps), then the edges, each written as the
 * text of its members as it is found; the document is those texts in order.
 * The text is JSON.stringify(document, null, 2) of the document as objects.
 */
export function* renderProvJson(lineage: LineageInParts, recordsInParts = false): RenderSteps<RenderedDocument> {
  const kinds = Object.fromEntries(KINDS.map((kind) => [kind, new KindText()])) as Record<Kind, KindText>;
  const agentIds = new Set<string>();
  // Jobs by their index in the export: what the edges need of them, without a string per job (Utf8StringColumn).
  const ids = new Utf8StringColumn();
  const hasOutput: boolean[] = [];
  // Start times in ms, NaN for none: a list of numbers only, kept unboxed.
  const startMs: number[] = [];
  const outputEntityId = (id: string) => `output:${id}`;

  yield* eachJobInSteps(lineage, (job) => {
    const { id } = job;
    const record = wholeRecord(job);
    const outputHash = record?.result?.outputHash;
    ids.push(id);
    hasOutput.push(Boolean(outputHash));
    startMs.push(record?.startedAt?.getTime() ?? Number.NaN);
    const activityId = `provenance:${id}`;
    if (!record) {
      kinds.activity.add(activityId, { 'attribute:restricted': { $: 'true', type: 'xsd:boolean' } });
      return;
    }
    kinds.activity.add(activityId, {
      'prov:type': record.type,
      'prov:startTime': record.startedAt?.toISOString(),
      'prov:endTime': record.completedAt?.toISOString(),
      'attribute:status': record.status,
      'attribute:cacheState': record.cacheState,
      'attribute:definitionHash': record.definitionHash,
      'attribute:inputHash': record.inputHash,
      'attribute:durationMs': record.durationMs === undefined ? undefined : { $: String(record.durationMs), type: 'xsd:long' },
    });
    if (outputHash) {
      const entityId = outputEntityId(id);
      kinds.entity.add(entityId, { 'attribute:outputHash': outputHash });
      kinds.wasGeneratedBy.addRelation('generated', { 'prov:entity': entityId, 'prov:activity': activityId, 'prov:time': record.completedAt?.toISOString() });
    }
    const agentId = providerAgentId(record.provider);
    if (agentId) {
      if (!agentIds.has(agentId)) {
        agentIds.add(agentId);
        kinds.agent.add(agentId, providerAgent(record.provider));
      }
      kinds.wasAssociatedWith.addRelation('associated', { 'prov:activity': activityId, 'prov:agent': agentId });
    }
  }, recordsInParts);

  yield* eachEdgeInSteps(lineage, (parentIndex, childIndex) => {
    const [parentId, child] = [ids.at(parentIndex), `provenance:${ids.at(childIndex)}`];
    kinds.wasInformedBy.addRelation('informed', { 'prov:informed': child, 'prov:informant': `provenance:${parentId}` });
    if (!hasOutput[parentIndex]) return;
    const started = startMs[childIndex]!;
    kinds.used.addRelation('used', { 'prov:activity': child, 'prov:entity': outputEntityId(parentId), 'prov:time': Number.isNaN(started) ? undefined : new Date(started).toISOString() });
  });

  const pieces: Buffer[] = [];
  const write = (text: string) => pieces.push(Buffer.from(text, 'utf8'));
  write(`{\n  "prefix": ${JSON.stringify(PREFIXES, null, 2).replace(/\n/g, '\n  ')}`);
  // Kinds without records are left out, as the submission's examples do.
  for (const kind of KINDS.filter((name) => kinds[name].size > 0)) {
    write(`,\n  ${JSON.stringify(kind)}: {`);
    for (const piece of kinds[kind].text.done()) pieces.push(piece);
    write('\n  }');
  }
  write('\n}\n');
  return { pieces, contentType: 'application/json' };
}

/**
 * One agent per provider id, model and version. Each part is percent-encoded
 * (so none holds a '/'), joined by '/', and empty trailing parts are left
 * out: distinct providers get distinct ids. A job without a provider has no agent.
 */
function providerAgentId(provider: Provider): string | undefined {
  const parts = [provider.id, provider.model, provider.version].map(encodeURIComponent);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.length === 0 ? undefined : `provider:${parts.join('/')}`;
}

function providerAgent(provider: Provider): Attributes {
  return {
    'prov:type': { $: 'prov:SoftwareAgent', type: 'xsd:QName' },
    'attribute:providerId': provider.id || undefined,
    'attribute:model': provider.model || undefined,
    'attribute:version': provider.version || undefined,
  };
}
