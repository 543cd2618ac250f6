import { expect } from 'chai';
import { ExportProvenanceGraphResponse } from '@provenance/client/gen/provenance/v1/provenance_service';
import { renderGraph, renderGraphInSteps, type DocumentFormat } from '../../src/domain/graph-export/index.js';
import { EXPORT_STEP_SIZE } from '../../src/domain/graph-export/in-steps.js';
import type { JobView } from '../../src/domain/job-view.js';
import { buildLineage, lineageEdges, type Lineage } from '../../src/domain/lineage.js';
import { encodeInParts } from '../../src/grpc/encoded-messages.js';
import { encodeDocumentAnswer } from '../../src/grpc/handlers/lineage.js';
import { nativeExportParts, toJobMessage } from '../../src/grpc/mapping.js';
import { randomDag } from '../support/job-records.js';

/** The steps of a generator run to its end; how many pauses it made, and its value. */
function run<T>(steps: Generator<unknown, T, undefined>): { pauses: number; value: T } {
  let pauses = 0;
  for (;;) {
    const step = steps.next();
    if (step.done) return { pauses, value: step.value };
    pauses++;
  }
}

/** The whole ancestry of the last of 3 × EXPORT_STEP_SIZE random jobs, with whole records: more jobs and edges than one step takes. */
function largeLineage(): Lineage {
  const jobs = randomDag(3 * EXPORT_STEP_SIZE, 7, { maxParents: 3, window: 30 });
  const root = jobs.at(-1)!;
  const lineage = buildLineage({ ...root, record: root }, { ancestors: jobs.slice(0, -1).map((job) => ({ ...job, record: job })) }, { maxDepth: 100_000, maxNodes: 100_000 });
  expect(lineage.nodes.length).to.be.above(2 * EXPORT_STEP_SIZE);
  return lineage;
}

describe('graph export in steps', () => {
  it("writes PROV-JSON as JSON.stringify(document, null, 2) would, the document's members in their order", () => {
    const { pieces } = run(renderGraphInSteps('PROV_JSON', largeLineage())).value;
    const content = pieces.join('');
    expect(content).to.equal(`${JSON.stringify(JSON.parse(content), null, 2)}\n`);
  });

  it('renders every format in steps, pausing every EXPORT_STEP_SIZE jobs or edges', () => {
    const lineage = largeLineage();
    const edges = lineage.edgeIndexes.length / 2;
    for (const format of ['PROV_JSON', 'DOT', 'MERMAID'] satisfies DocumentFormat[]) {
      const { pauses, value } = run(renderGraphInSteps(format, lineage));
      expect(value.pieces.length, format).to.be.above(1);
      expect({ content: Buffer.concat(value.pieces).toString('utf8'), contentType: value.contentType }, format).to.deep.equal(renderGraph(format, lineage));
      expect(pauses, format).to.be.at.least(Math.floor((lineage.nodes.length + 1) / EXPORT_STEP_SIZE) + Math.floor(edges / EXPORT_STEP_SIZE));
    }
  });

  it('encodes the native format in parts to the bytes of the whole answer', async () => {
    const lineage = largeLineage() as Lineage<JobView>;
    const summary = { truncated: false, truncationReasons: [], hiddenNodeCount: 0, format: 1, fanOutTruncations: [] };
    const { bytes } = await encodeInParts(ExportProvenanceGraphResponse, nativeExportParts(lineage, summary));
    const whole = ExportProvenanceGraphResponse.encode({
      ...summary,
      jobs: [lineage.root, ...lineage.nodes.map((node) => node.row)].map((row) => toJobMessage(row.record!)),
      edges: lineageEdges(lineage),
      content: '',
      contentType: '',
    }).finish();
    expect(bytes).to.deep.equal(Buffer.from(whole));
  });

  it("encodes a document's answer a piece at a time to the bytes of the whole answer", async () => {
    const lineage = largeLineage();
    const summary = { truncated: true, truncationReasons: [2], hiddenNodeCount: 3, format: 2, fanOutTruncations: [{ jobId: 'hub', omittedChildCount: 7, omittedParentCount: 0 }] };
    for (const format of ['PROV_JSON', 'DOT', 'MERMAID'] satisfies DocumentFormat[]) {
      const document = run(renderGraphInSteps(format, lineage)).value;
      // A character of several UTF-8 bytes, so that the content's length in bytes is not its length in characters.
      document.pieces.push(Buffer.from('é → 😀', 'utf8'));
      const { bytes } = await encodeDocumentAnswer(summary, document);
      const whole = ExportProvenanceGraphResponse.encode({ ...summary, jobs: [], edges: [], content: Buffer.concat(document.pieces).toString('utf8'), contentType: document.contentType }).finish();
      expect(bytes, format).to.deep.equal(Buffer.from(whole));
    }
  });
});
