import type { Provider } from '../job.js';
import { lineageEdges, type Lineage } from '../lineage.js';
import { exportedJobs } from './exported-jobs.js';
import type { RenderedGraph } from './rendered-graph.js';

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
type Attributes = Record<string, AttributeValue>;

export function renderProvJson(lineage: Lineage): RenderedGraph {
  const activity: Record<string, Attributes> = {};
  const entity: Record<string, Attributes> = {};
  const agent: Record<string, Attributes> = {};
  const wasGeneratedBy: Attributes[] = [];
  const wasAssociatedWith: Attributes[] = [];
  const used: Attributes[] = [];
  const wasInformedBy: Attributes[] = [];
  const outputOf = new Map<string, string>();
  const startOf = new Map<string, Date>();

  for (const { id, record } of exportedJobs(lineage)) {
    const activityId = `provenance:${id}`;
    if (!record) {
      activity[activityId] = { 'attribute:restricted': { $: 'true', type: 'xsd:boolean' } };
      continue;
    }
    activity[activityId] = withoutUndefined({
      'prov:type': record.type,
      'prov:startTime': record.startedAt?.toISOString(),
      'prov:endTime': record.completedAt?.toISOString(),
      'attribute:status': record.status,
      'attribute:cacheState': record.cacheState,
      'attribute:definitionHash': record.definitionHash,
      'attribute:inputHash': record.inputHash,
      'attribute:durationMs': record.durationMs === undefined ? undefined : { $: String(record.durationMs), type: 'xsd:long' },
    });
    if (record.startedAt) startOf.set(id, record.startedAt);
    if (record.result?.outputHash) {
      const entityId = `output:${id}`;
      outputOf.set(id, entityId);
      entity[entityId] = { 'attribute:outputHash': record.result.outputHash };
      wasGeneratedBy.push(withoutUndefined({
        'prov:entity': entityId,
        'prov:activity': activityId,
        'prov:time': record.completedAt?.toISOString(),
      }));
    }
    const agentId = providerAgentId(record.provider);
    if (agentId) {
      agent[agentId] ??= providerAgent(record.provider);
      wasAssociatedWith.push({ 'prov:activity': activityId, 'prov:agent': agentId });
    }
  }

  for (const { parentJobId, childJobId } of lineageEdges(lineage)) {
    const child = `provenance:${childJobId}`;
    wasInformedBy.push({ 'prov:informed': child, 'prov:informant': `provenance:${parentJobId}` });
    const parentOutput = outputOf.get(parentJobId);
    if (parentOutput) {
      used.push(withoutUndefined({ 'prov:activity': child, 'prov:entity': parentOutput, 'prov:time': startOf.get(childJobId)?.toISOString() }));
    }
  }

  const records = {
    entity,
    activity,
    agent,
    wasGeneratedBy: blankIds('generated', wasGeneratedBy),
    used: blankIds('used', used),
    wasInformedBy: blankIds('informed', wasInformedBy),
    wasAssociatedWith: blankIds('associated', wasAssociatedWith),
  };
  // Kinds without records are left out, as the submission's examples do.
  const document = { prefix: PREFIXES, ...Object.fromEntries(Object.entries(records).filter(([, kind]) => Object.keys(kind).length > 0)) };
  return { content: `${JSON.stringify(document, null, 2)}\n`, contentType: 'application/json' };
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
  return withoutUndefined({
    'prov:type': { $: 'prov:SoftwareAgent', type: 'xsd:QName' },
    'attribute:providerId': provider.id || undefined,
    'attribute:model': provider.model || undefined,
    'attribute:version': provider.version || undefined,
  });
}

function withoutUndefined(attributes: Record<string, AttributeValue | undefined>): Attributes {
  return Object.fromEntries(Object.entries(attributes).filter((entry): entry is [string, AttributeValue] => entry[1] !== undefined));
}

/** Relations keyed by blank-node ids, numbered per kind in the order they were found: `_:used1`, `_:used2`, ... */
function blankIds(kind: string, relations: readonly Attributes[]): Record<string, Attributes> {
  return Object.fromEntries(relations.map((attributes, i) => [`_:${kind}${i + 1}`, attributes]));
}
