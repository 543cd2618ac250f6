import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { GetLineageResponse, Job } from '@provenance/client';
import { buildLineage } from '../../src/domain/lineage.js';
import type { JobView } from '../../src/domain/job-view.js';
import { toJobMessage, toLineageResponse } from '../../src/grpc/mapping.js';
import { jsonInParts as jsonPieces, messageParts } from '../../src/http/rest/json-in-parts.js';
import { loadRestRoutes, type RestRoute } from '../../src/http/rest/rest-routes.js';
import { TURN_BUDGET_MS } from '../../src/service/next-turn.js';
import { makeJob, randomDag } from '../support/job-records.js';

const routes = loadRestRoutes(
  fileURLToPath(new URL('../../../src/gen/openapi/provenance.swagger.json', import.meta.url)),
  fileURLToPath(new URL('../../../src/gen/provenance.binpb', import.meta.url)),
);
const routeOf = (operationId: string): RestRoute => routes.find((r) => r.operationId === operationId)!;

/** The text of jsonInParts' pieces. */
const jsonInParts = async (codec: RestRoute['response'], bytes: Uint8Array, partBytes?: number) => Buffer.concat(await jsonPieces(codec, bytes, partBytes)).toString('utf8');

/** What the gateway wrote before answers were transcoded in parts: the whole answer decoded, mapped and written at once. */
const oneStep = (route: RestRoute, bytes: Uint8Array) => JSON.stringify(route.response.toJSON(route.response.decode(bytes)));

/** A whole-ancestry lineage of the last of 300 random jobs, in the full view, as the gRPC handler encodes it. */
function fullLineageAnswer(): Uint8Array {
  const jobs = randomDag(300, 18, { maxParents: 3, window: 20 });
  const root = jobs.at(-1)!;
  const ancestors = jobs.slice(0, -1).map((job) => ({ ...job, record: job }));
  const lineage = buildLineage({ ...root, record: root }, { ancestors }, { maxDepth: 1000, maxNodes: 1000 });
  expect(lineage.nodes.length, 'the lineage has enough nodes to be split').to.be.above(50);
  return GetLineageResponse.encode(toLineageResponse(lineage as never, 'FULL')).finish();
}

describe('REST answers transcoded to JSON in parts', () => {
  it('splits an encoding at its top-level fields into encodings that join to it', () => {
    const bytes = fullLineageAnswer();
    const parts = [...messageParts(bytes, 500)];
    expect(parts.length).to.be.above(10);
    expect(Buffer.concat(parts)).to.deep.equal(Buffer.from(bytes));
    for (const part of parts) GetLineageResponse.decode(part);
  });

  it('writes the text of the one-step transcoding, whatever the part size', async () => {
    const route = routeOf('GetLineage');
    const bytes = fullLineageAnswer();
    for (const partBytes of [1, 200, 4096, bytes.length]) {
      expect(await jsonInParts(route.response, bytes, partBytes), `parts of ${partBytes} bytes`).to.equal(oneStep(route, bytes));
    }
  });

  it("merges a map's entries split between parts", async () => {
    const route = routeOf('GetJob');
    const labels: Record<string, string> = {};
    for (let i = 0; i < 40; i++) labels[`label-${i}`] = `value ${i}`;
    const bytes = Job.encode(toJobMessage(makeJob({ labels }) as JobView)).finish();
    const json = await jsonInParts(route.response, bytes, 16);
    expect(json).to.equal(oneStep(route, bytes));
    const parsed = JSON.parse(json) as { labels: Record<string, string> };
    expect(parsed.labels).to.deep.equal(labels);
  });

  it('lets the event loop turn between parts once TURN_BUDGET_MS is spent', async () => {
    const bytes = fullLineageAnswer();
    const parts = [...messageParts(bytes, 200)].length;
    let transcoded = false;
    let turnsMeanwhile = 0;
    const counting = (async () => {
      while (!transcoded) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turnsMeanwhile++;
      }
    })();
    // A clock on which each look takes half the budget: the turns come every few parts, whatever the machine's speed.
    const now = performance.now;
    let clock = 0;
    performance.now = () => (clock += TURN_BUDGET_MS / 2);
    try {
      await jsonInParts(routeOf('GetLineage').response, bytes, 200);
    } finally {
      performance.now = now;
    }
    transcoded = true;
    await counting;
    expect(parts).to.be.above(30);
    expect(turnsMeanwhile, 'other work ran between the parts').to.be.at.least(Math.floor(parts / 3));
  });
});
