import type { Provider } from '../job.js';
import type { Lineage } from '../lineage.js';
import { wholeRecord } from './exported-jobs.js';
import { eachInSteps, eachJobInSteps, ObjectMembers, prettyJsonInSteps, TextPieces } from './in-steps.js';
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
type Attributes = Record<string, AttributeValue>;

/** In steps (in-steps.ts): the records, then the document's text. */
export function* renderProvJson(lineage: Lineage): Generator<void, RenderedDocument> {
  // Not objects: prettyJsonInSteps writes these as objects, in steps, without listing tens of thousands of keys at once. Not
  // Maps either, for the kinds with a member per job or edge: a Map growing past 65,536 keys rehashes them all in one block
  // (15 to 20 ms of CPU on the loaded 2-core machine), and four grew in step here. Jobs are kept by their index in the export.
  const activity = new ObjectMembers<Attributes>();
  const entity = new ObjectMembers<Attributes>();
  const agent = new Map<string, Attributes>();
  const wasGeneratedBy: Attributes[] = [];
  const wasAssociatedWith: Attributes[] = [];
  const used: Attributes[] = [];
  const wasInformedBy: Attributes[] = [];
  const ids: string[] = [];
  const outputOf: (string | undefined)[] = [];
  const startOf: (Date | undefined)[] = [];

  yield* eachJobInSteps(lineage, (job) => {
    const { id } = job;
    const record = wholeRecord(job);
    const index = ids.length;
    ids.push(id);
    outputOf.push(undefined);
    startOf.push(record?.startedAt);
    const activityId = `provenance:${id}`;
    if (!record) {
      activity.add(activityId, { 'attribute:restricted': { $: 'true', type: 'xsd:boolean' } });
      return;
    }
    activity.add(activityId, withoutUndefined({
      'prov:type': record.type,
      'prov:startTime': record.startedAt?.toISOString(),
      'prov:endTime': record.completedAt?.toISOString(),
      'attribute:status': record.status,
      'attribute:cacheState': record.cacheState,
      'attribute:definitionHash': record.definitionHash,
      'attribute:inputHash': record.inputHash,
      'attribute:durationMs': record.durationMs === undefined ? undefined : { $: String(record.durationMs), type: 'xsd:long' },
    }));
    if (record.result?.outputHash) {
      const entityId = `output:${id}`;
      outputOf[index] = entityId;
      entity.add(entityId, { 'attribute:outputHash': record.result.outputHash });
      wasGeneratedBy.push(withoutUndefined({
        'prov:entity': entityId,
        'prov:activity': activityId,
        'prov:time': record.completedAt?.toISOString(),
      }));
    }
    const agentId = providerAgentId(record.provider);
    if (agentId) {
      if (!agent.has(agentId)) agent.set(agentId, providerAgent(record.provider));
      wasAssociatedWith.push({ 'prov:activity': activityId, 'prov:agent': agentId });
    }
  });

  const { edgeIndexes } = lineage;
  yield* eachInSteps(edgeIndexes.length / 2, (k) => {
    const [parentIndex, childIndex] = [edgeIndexes[2 * k]!, edgeIndexes[2 * k + 1]!];
    const child = `provenance:${ids[childIndex]}`;
    wasInformedBy.push({ 'prov:informed': child, 'prov:informant': `provenance:${ids[parentIndex]}` });
    const parentOutput = outputOf[parentIndex];
    if (parentOutput) {
      used.push(withoutUndefined({ 'prov:activity': child, 'prov:entity': parentOutput, 'prov:time': startOf[childIndex]?.toISOString() }));
    }
  });

  const records = {
    entity,
    activity,
    agent,
    wasGeneratedBy: yield* blankIds('generated', wasGeneratedBy),
    used: yield* blankIds('used', used),
    wasInformedBy: yield* blankIds('informed', wasInformedBy),
    wasAssociatedWith: yield* blankIds('associated', wasAssociatedWith),
  };
  // Kinds without records are left out, as the submission's examples do.
  const document = { prefix: PREFIXES, ...Object.fromEntries(Object.entries(records).filter(([, kind]) => kind.size > 0)) };
  const text = new TextPieces();
  yield* prettyJsonInSteps(document, text);
  text.write('\n');
  return { pieces: text.done(), contentType: 'application/json' };
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
function* blankIds(kind: string, relations: readonly Attributes[]): Generator<void, ObjectMembers<Attributes>> {
  const keyed = new ObjectMembers<Attributes>();
  yield* eachInSteps(relations.length, (i) => keyed.add(`_:${kind}${i + 1}`, relations[i]!));
  return keyed;
}
