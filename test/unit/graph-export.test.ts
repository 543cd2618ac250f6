import { expect } from 'chai';
import { renderGraph } from '../../src/domain/graph-export/index.js';
import type { JobRecord } from '../../src/domain/job.js';
import { opaqueJobId } from '../../src/domain/access.js';
import { JobViewer, type KnownJobs } from '../../src/domain/job-view.js';
import { buildLineage, lineageEdges, type Lineage, type LineageRow } from '../../src/domain/lineage.js';
import { parseDot, parseMermaid, provJsonProblems } from '../support/graph-documents.js';
import { makeJob } from '../support/job-records.js';

const at = (time: string) => new Date(`2026-11-26T${time}Z`);

// model ← features ← raw, and model ← secret (another tenant's: restricted) and model ← ghost (never recorded: dangling).
const raw = makeJob({
  jobId: 'raw',
  type: 'ingest',
  provider: { id: 'etl', model: 'csv loader', version: '1.4' },
  startedAt: at('09:00:00.000'),
  completedAt: at('09:00:00.150'),
  durationMs: 150,
  result: { outputHash: 'sha256:9f2c41', cached: false },
});
const features = makeJob({
  jobId: 'features',
  type: 'featurize "v2" \\ <fast> #1',
  parentIds: ['raw'],
  provider: { id: '', model: '', version: '' },
  status: 'RUNNING',
  startedAt: at('09:01:00.000'),
});
const secret = makeJob({ jobId: 'secret', type: 'leak', tenant: 'other' });
const model = makeJob({
  jobId: 'model',
  type: 'train',
  parentIds: ['features', 'secret', 'ghost'],
  provider: { id: 'gpu-pool', model: 'xgboost', version: '' },
  startedAt: undefined,
  completedAt: at('09:05:00.000'),
  durationMs: undefined,
  result: { outputHash: 'sha256:77ab10', cached: false },
});

const row = (record: JobRecord): LineageRow => ({ jobId: record.jobId, parentIds: record.parentIds, tenant: record.tenant, readers: [], record });
const KEY = Buffer.from('graph-export-test-key');
const OPAQUE = opaqueJobId('secret', KEY);
const known: KnownJobs = new Map([...[model, features, secret, raw].map((job) => [job.jobId, job] as const), ['ghost', undefined]]);
const lineage: Lineage = new JobViewer({ tenant: 'default', subject: 'reader' }, KEY).lineage(
  buildLineage(row(model), { ancestors: [row(features), row(secret), row(raw)] }, { maxDepth: 10, maxNodes: 100 }),
  known,
);

describe('graph export', () => {
  it('is built on a lineage with a restricted node, a job without output and a dangling parent', () => {
    expect(lineage.nodes.map((n) => n.row.jobId)).to.deep.equal(['features', OPAQUE, 'raw']);
    expect(lineageEdges(lineage).map((e) => `${e.parentJobId}>${e.childJobId}`)).to.deep.equal([`features>model`, `${OPAQUE}>model`, 'raw>features']);
  });

  describe('PROV-JSON', () => {
    const rendered = renderGraph('PROV_JSON', lineage);
    const document = JSON.parse(rendered.content) as Record<string, Record<string, unknown>>;

    it('maps jobs to activities, outputs to entities, providers to agents, and parents to used / wasInformedBy', () => {
      expect(rendered.contentType).to.equal('application/json');
      expect(document).to.deep.equal({
        prefix: {
          provenance: 'urn:provenance:job:',
          output: 'urn:provenance:output:',
          provider: 'urn:provenance:provider:',
          attribute: 'urn:provenance:attribute:',
        },
        entity: {
          'output:model': { 'attribute:outputHash': 'sha256:77ab10' },
          'output:raw': { 'attribute:outputHash': 'sha256:9f2c41' },
        },
        activity: {
          'provenance:model': {
            'prov:type': 'train',
            'prov:endTime': '2026-11-26T09:05:00.000Z',
            'attribute:status': 'SUCCEEDED',
            'attribute:cacheState': 'FRESH',
            'attribute:definitionHash': model.definitionHash,
            'attribute:inputHash': model.inputHash,
          },
          'provenance:features': {
            'prov:type': 'featurize "v2" \\ <fast> #1',
            'prov:startTime': '2026-11-26T09:01:00.000Z',
            'attribute:status': 'RUNNING',
            'attribute:cacheState': 'NONE',
            'attribute:definitionHash': features.definitionHash,
            'attribute:inputHash': features.inputHash,
          },
          [`provenance:${OPAQUE}`]: { 'attribute:restricted': { $: 'true', type: 'xsd:boolean' } },
          'provenance:raw': {
            'prov:type': 'ingest',
            'prov:startTime': '2026-11-26T09:00:00.000Z',
            'prov:endTime': '2026-11-26T09:00:00.150Z',
            'attribute:status': 'SUCCEEDED',
            'attribute:cacheState': 'FRESH',
            'attribute:definitionHash': raw.definitionHash,
            'attribute:inputHash': raw.inputHash,
            'attribute:durationMs': { $: '150', type: 'xsd:long' },
          },
        },
        agent: {
          'provider:gpu-pool/xgboost': { 'prov:type': { $: 'prov:SoftwareAgent', type: 'xsd:QName' }, 'attribute:providerId': 'gpu-pool', 'attribute:model': 'xgboost' },
          'provider:etl/csv%20loader/1.4': {
            'prov:type': { $: 'prov:SoftwareAgent', type: 'xsd:QName' },
            'attribute:providerId': 'etl',
            'attribute:model': 'csv loader',
            'attribute:version': '1.4',
          },
        },
        wasGeneratedBy: {
          '_:generated1': { 'prov:entity': 'output:model', 'prov:activity': 'provenance:model', 'prov:time': '2026-11-26T09:05:00.000Z' },
          '_:generated2': { 'prov:entity': 'output:raw', 'prov:activity': 'provenance:raw', 'prov:time': '2026-11-26T09:00:00.150Z' },
        },
        used: {
          '_:used1': { 'prov:activity': 'provenance:features', 'prov:entity': 'output:raw', 'prov:time': '2026-11-26T09:01:00.000Z' },
        },
        wasInformedBy: {
          '_:informed1': { 'prov:informed': 'provenance:model', 'prov:informant': 'provenance:features' },
          '_:informed2': { 'prov:informed': 'provenance:model', 'prov:informant': `provenance:${OPAQUE}` },
          '_:informed3': { 'prov:informed': 'provenance:features', 'prov:informant': 'provenance:raw' },
        },
        wasAssociatedWith: {
          '_:associated1': { 'prov:activity': 'provenance:model', 'prov:agent': 'provider:gpu-pool/xgboost' },
          '_:associated2': { 'prov:activity': 'provenance:raw', 'prov:agent': 'provider:etl/csv%20loader/1.4' },
        },
      });
    });

    it('follows the structure of the PROV-JSON submission', () => {
      expect(provJsonProblems(document)).to.deep.equal([]);
    });

    it('says nothing of a restricted job but its opaque id', () => {
      expect(rendered.content).not.to.include('secret');
      expect(rendered.content).not.to.include('leak');
    });

    it('leaves out record kinds it has nothing for', () => {
      const alone = buildLineage(row(features), {}, { maxDepth: 10, maxNodes: 100 });
      expect(Object.keys(JSON.parse(renderGraph('PROV_JSON', alone).content))).to.deep.equal(['prefix', 'activity']);
    });
  });

  describe('the PROV-JSON checker', () => {
    const valid = () => JSON.parse(renderGraph('PROV_JSON', lineage).content) as Record<string, Record<string, Record<string, unknown>>>;

    it('finds relations to undeclared records, missing required attributes, undeclared prefixes and bad literals', () => {
      const broken = valid();
      broken['used']!['_:used1']!['prov:entity'] = 'output:features';
      delete broken['wasInformedBy']!['_:informed1']!['prov:informant'];
      broken['activity']!['provenance:raw']!['attribute:durationMs'] = { $: 'soon', type: 'xsd:long' };
      broken['activity']!['provenance:raw']!['prov:startTime'] = 'yesterday';
      broken['agent']!['provider:gpu-pool/xgboost']!['prov:type'] = { $: 'prov:SoftwareAgent', type: 'xsd:QName', lang: 'en' };
      broken['entity']!['elsewhere:thing'] = {};
      broken['wasCalledBy'] = {};
      expect(provJsonProblems(broken)).to.deep.equal([
        'entity id: prefix elsewhere is not declared',
        'activity provenance:raw prov:startTime is not an xsd:dateTime',
        'activity provenance:raw attribute:durationMs: soon is not a valid xsd:long',
        'agent provider:gpu-pool/xgboost prov:type: a typed literal has exactly "$" and "type"',
        'wasCalledBy is not a PROV-JSON record kind',
        'used _:used1 prov:entity names "output:features", which is no declared entity',
        'wasInformedBy _:informed1 lacks prov:informant',
      ]);
    });
  });

  describe('DOT', () => {
    const rendered = renderGraph('DOT', lineage);

    it('writes a digraph with quoted, escaped ids and labels, and parent -> child edges', () => {
      expect(rendered.contentType).to.equal('text/vnd.graphviz');
      expect(rendered.content).to.equal(
        [
          'digraph provenance {',
          '  node [shape=box, style=rounded];',
          '  "model" [label="model\\ntrain\\nSUCCEEDED", peripheries=2];',
          '  "features" [label="features\\nfeaturize \\"v2\\" \\\\ <fast> #1\\nRUNNING"];',
          `  "${OPAQUE}" [label="${OPAQUE}\\nrestricted", style="rounded,dashed"];`,
          '  "raw" [label="raw\\ningest\\nSUCCEEDED"];',
          '  "features" -> "model";',
          `  "${OPAQUE}" -> "model";`,
          '  "raw" -> "features";',
          '}',
          '',
        ].join('\n'),
      );
    });

    it('parses with a DOT parser into the lineage’s nodes and edges', () => {
      const graph = parseDot(rendered.content);
      expect([...graph.nodes.keys()]).to.deep.equal(['model', 'features', OPAQUE, 'raw']);
      expect(graph.edges).to.deep.equal(lineageEdges(lineage).map((e) => [e.parentJobId, e.childJobId]));
      expect(graph.nodes.get('features')!['label']).to.equal('features\\nfeaturize "v2" \\\\ <fast> #1\\nRUNNING');
    });

    it('is refused by the parser when broken, so that the test above can fail', () => {
      expect(() => parseDot(rendered.content.replace('"raw" -> "features";', '"raw -> "features";'))).to.throw();
    });
  });

  describe('Mermaid', () => {
    const rendered = renderGraph('MERMAID', lineage);

    it('writes a flowchart of safe node ids, labels with the job id and escaped text, and a class per status', () => {
      expect(rendered.contentType).to.equal('text/vnd.mermaid');
      expect(rendered.content).to.equal(
        [
          'flowchart TD',
          '  n0["model<br/>train<br/>SUCCEEDED"]:::succeeded',
          '  n1["features<br/>featurize #34;v2#34; \\ #60;fast#62; #35;1<br/>RUNNING"]:::running',
          `  n2["${OPAQUE}<br/>restricted"]:::restricted`,
          '  n3["raw<br/>ingest<br/>SUCCEEDED"]:::succeeded',
          '  n1 --> n0',
          '  n2 --> n0',
          '  n3 --> n1',
          '  classDef queued fill:#e9ecef,stroke:#6c757d',
          '  classDef waiting fill:#fff3cd,stroke:#b58900',
          '  classDef running fill:#cfe2ff,stroke:#0d6efd',
          '  classDef succeeded fill:#d1e7dd,stroke:#198754',
          '  classDef failed fill:#f8d7da,stroke:#dc3545',
          '  classDef cancelled fill:#e2e3e5,stroke:#41464b',
          '  classDef restricted fill:#ffffff,stroke:#6c757d,stroke-dasharray:4 3',
          '',
        ].join('\n'),
      );
    });

    it('declares each node once and uses only declared ids in edges', () => {
      const graph = parseMermaid(rendered.content);
      expect(graph.nodes.size).to.equal(4);
      expect(graph.edges).to.have.length(3);
    });
  });
});
