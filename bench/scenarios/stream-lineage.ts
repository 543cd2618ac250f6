import { createHash, type Hash } from 'node:crypto';
import { LineageDirection, LineageView, ProvenanceClient, type StreamLineageResponse } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { sampleIndexes } from '../support/graph.js';
import { FULL_ANCESTORS, lineageCases } from '../support/lineage-cases.js';
import { rssMiB } from '../support/process-stats.js';
import { elapsedMs } from '../support/stats.js';

/**
 * Issue #16 item 2: the server's memory and time while StreamLineage sends
 * the whole ancestry of a late job of the graph (`--graph N`; at 100,000
 * jobs about three quarters of it), against GetLineage's for the same
 * lineage (ids view). Each call runs on a fresh server on the graph's file,
 * once its lineage graph is loaded (/readyz): the server's RSS is sampled
 * every RSS_SAMPLE_MS from before the call to its end; the figures are the
 * peak, and the peak above the server's RSS before the call, per node sent.
 *
 * Then the done-when check of the issue at that size: the same stream, cut
 * after CUTS messages chosen at random (the client drops the stream and opens
 * it again with that message's resume token), must join to exactly the
 * uninterrupted stream: the same nodes in the same order, the same edges in
 * the same order, the root once, nothing twice. A difference fails the
 * scenario.
 */

const RSS_SAMPLE_MS = 20;
/** Room for GetLineage's whole answer at 1,000,000 jobs, as the growth scenario gives it. */
const MAX_MESSAGE_BYTES = 1024 * 2 ** 20;
const READY_WAIT_MS = 600_000;
const CUTS = 10;
const CUT_SEED = 16;

export const streamLineage: Scenario = {
  name: 'stream-lineage',
  async run(context: BenchContext) {
    const size = context.sizes.graph;
    const path = await context.graphDatabase(size);
    const root = lineageCases(size, 1).find((c) => c.name === FULL_ANCESTORS)!.roots[0]!;
    const request = { jobId: root, direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS };
    const streamed = await onFreshServer(context, path, size, async (client) => {
      const whole = new StreamDigest(false);
      for await (const message of client.streamLineage(request, { timeoutMs: READY_WAIT_MS })) whole.add(message);
      return { nodes: whole.nodes, messages: whole.messages, whole };
    });
    const whole = await onFreshServer(context, path, size, async (client) => {
      const answer = await client.getLineage({ ...request, view: LineageView.LINEAGE_VIEW_IDS });
      return { nodes: answer.nodes.length, messages: 1 };
    });
    if (streamed.nodes !== whole.nodes) throw new Error(`StreamLineage sent ${streamed.nodes} nodes, GetLineage answered ${whole.nodes}`);
    const cuts = sampleIndexes(CUTS, 0, streamed.messages - 1, CUT_SEED).sort((a, b) => a - b);
    const resumed = await onFreshServer(context, path, size, async (client) => {
      const joined = new StreamDigest(true);
      let resumeToken = '';
      for (const cut of [...cuts, Infinity]) {
        // The client drops the stream after message number cut (from 0), and opens it again after that message.
        for await (const message of client.streamLineage({ ...request, resumeToken }, { timeoutMs: READY_WAIT_MS })) {
          joined.add(message);
          resumeToken = message.resumeToken;
          if (joined.messages - 1 === cut) break;
        }
      }
      return { nodes: joined.nodes, messages: joined.messages, joined };
    });
    const differences = resumed.joined.differencesFrom(streamed.whole);
    // A smoke-size stream may have fewer messages than CUTS.
    const resumes = `cut and resumed ${cuts.length} times`;
    context.note(
      `stream-lineage | ${size}: StreamLineage ${resumes} (after messages ${cuts.join(', ')} of ${streamed.messages}): ` +
        (differences.length === 0 ? `exactly the uninterrupted stream (${resumed.nodes} nodes, ${resumed.joined.edges} edges, in order, nothing twice) in ${resumed.seconds.toFixed(1)} s, server peak RSS ${resumed.peakMiB.toFixed(0)} MiB` : `DIFFERS: ${differences.join('; ')}`),
    );
    if (differences.length > 0) throw new Error(`the stream ${resumes} differs from the uninterrupted one: ${differences.join('; ')}`);
    const perNode = (m: Measured) => ((m.peakMiB - m.beforeMiB) * 2 ** 20) / m.nodes;
    const notes = (m: Measured) => ({ jobs: size, nodes: m.nodes, 'RSS before MiB': m.beforeMiB, 'peak RSS MiB': m.peakMiB, seconds: m.seconds });
    context.report({ scenario: 'stream-lineage', name: `${size}: StreamLineage of ${FULL_ANCESTORS}, server peak RSS`, unit: 'MiB', value: streamed.peakMiB, notes: { ...notes(streamed), messages: streamed.messages } });
    context.report({ scenario: 'stream-lineage', name: `${size}: StreamLineage of ${FULL_ANCESTORS}, server RSS growth per node`, unit: 'bytes/node', value: perNode(streamed), notes: notes(streamed) });
    context.report({ scenario: 'stream-lineage', name: `${size}: StreamLineage of ${FULL_ANCESTORS}, time`, unit: 's', value: streamed.seconds, notes: notes(streamed) });
    context.report({ scenario: 'stream-lineage', name: `${size}: GetLineage of ${FULL_ANCESTORS}, ids view, server peak RSS`, unit: 'MiB', value: whole.peakMiB, notes: notes(whole) });
    context.report({ scenario: 'stream-lineage', name: `${size}: GetLineage of ${FULL_ANCESTORS}, ids view, server RSS growth per node`, unit: 'bytes/node', value: perNode(whole), notes: notes(whole) });
    context.report({ scenario: 'stream-lineage', name: `${size}: GetLineage of ${FULL_ANCESTORS}, ids view, time`, unit: 's', value: whole.seconds, notes: notes(whole) });
    context.report({
      scenario: 'stream-lineage',
      name: `${size}: StreamLineage of ${FULL_ANCESTORS}, ${resumes}, server peak RSS`,
      unit: 'MiB',
      value: resumed.peakMiB,
      notes: { ...notes(resumed), messages: resumed.messages, cuts: cuts.join(' ') },
    });
  },
};

/**
 * What a stream sent, in order, as a running hash of its nodes and one of
 * its edges, with counts; with unique, also the sets that tell whether a
 * node or an edge came twice (the uninterrupted stream need not hold them:
 * a joined stream equal to it in order has its duplicates).
 */
class StreamDigest {
  messages = 0;
  nodes = 0;
  edges = 0;
  roots = 0;
  lasts = 0;
  private readonly nodeHash: Hash = createHash('sha256');
  private readonly edgeHash: Hash = createHash('sha256');
  private readonly seenNodes: Set<string> | undefined;
  private readonly seenEdges: Set<string> | undefined;
  nodesTwice = 0;
  edgesTwice = 0;

  constructor(unique: boolean) {
    this.seenNodes = unique ? new Set() : undefined;
    this.seenEdges = unique ? new Set() : undefined;
  }

  add(message: StreamLineageResponse): void {
    this.messages++;
    if (message.root) this.roots++;
    if (message.last) this.lasts++;
    for (const node of message.nodes) {
      this.nodes++;
      this.nodeHash.update(`${node.jobId} ${node.depth} ${node.relation} ${node.restricted}\n`);
      if (this.seenNodes?.has(node.jobId)) this.nodesTwice++;
      this.seenNodes?.add(node.jobId);
    }
    for (const edge of message.edges) {
      this.edges++;
      const key = `${edge.parentJobId}>${edge.childJobId}`;
      this.edgeHash.update(`${key}\n`);
      if (this.seenEdges?.has(key)) this.edgesTwice++;
      this.seenEdges?.add(key);
    }
  }

  /** What differs between this stream and the other, in words (none: equal). Ends both hashes. */
  differencesFrom(other: StreamDigest): string[] {
    const differences: string[] = [];
    const compare = (what: string, mine: number | string, theirs: number | string) => {
      if (mine !== theirs) differences.push(`${what}: ${mine} against ${theirs}`);
    };
    compare('nodes', this.nodes, other.nodes);
    compare('edges', this.edges, other.edges);
    compare('messages with the root', this.roots, other.roots);
    compare('messages marked last', this.lasts, other.lasts);
    compare('nodes in order (sha256)', this.nodeHash.digest('hex'), other.nodeHash.digest('hex'));
    compare('edges in order (sha256)', this.edgeHash.digest('hex'), other.edgeHash.digest('hex'));
    if (this.nodesTwice > 0) differences.push(`${this.nodesTwice} nodes sent twice`);
    if (this.edgesTwice > 0) differences.push(`${this.edgesTwice} edges sent twice`);
    return differences;
  }
}

interface Measured {
  nodes: number;
  messages: number;
  beforeMiB: number;
  peakMiB: number;
  seconds: number;
}

/** Runs call on a server of its own on the graph's file, once the server is ready, sampling its RSS meanwhile. */
async function onFreshServer<T extends { nodes: number; messages: number }>(
  context: BenchContext,
  path: string,
  size: number,
  call: (client: ProvenanceClient) => Promise<T>,
): Promise<Measured & T> {
  const server = await context.startServer({ PROVENANCE_SQLITE_PATH: path, PROVENANCE_MAX_LINEAGE_NODES: String(size), PROVENANCE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
  const client = new ProvenanceClient({ address: server.address, timeoutMs: READY_WAIT_MS, channelOptions: { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES } });
  try {
    await untilReady(server.httpAddress);
    const pid = server.child.pid!;
    const beforeMiB = rssMiB(pid);
    let peakMiB = beforeMiB;
    const sampler = setInterval(() => (peakMiB = Math.max(peakMiB, rssMiB(pid))), RSS_SAMPLE_MS);
    const start = process.hrtime.bigint();
    try {
      const answer = await call(client);
      const seconds = elapsedMs(start) / 1000;
      peakMiB = Math.max(peakMiB, rssMiB(pid));
      return { ...answer, beforeMiB, peakMiB, seconds };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    client.close();
    await context.stop(server);
  }
}

/** Waits for /readyz to answer 200: the lineage graph loaded, so that the load's memory is not counted as the call's. */
async function untilReady(httpAddress: string): Promise<void> {
  const deadline = Date.now() + READY_WAIT_MS;
  for (;;) {
    const response = await fetch(`http://${httpAddress}/readyz`).catch(() => undefined);
    await response?.body?.cancel();
    if (response?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`the server at ${httpAddress} was not ready within ${READY_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
