import { LineageDirection, LineageView, ProvenanceClient } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { FULL_ANCESTORS, lineageCases } from '../support/lineage-cases.js';
import { rssMiB } from '../support/process-stats.js';
import { elapsedMs } from '../support/stats.js';

/**
 * Issue #16 item 2: the server's memory while StreamLineage sends the whole
 * ancestry of a late job of the graph (`--graph N`; at 100,000 jobs about
 * three quarters of it), against GetLineage's for the same lineage (ids
 * view). Each call runs on a fresh server on the graph's file, once its
 * lineage graph is loaded (/readyz): the server's RSS is sampled every
 * RSS_SAMPLE_MS from before the call to its end; the figures are the peak,
 * and the peak above the server's RSS before the call, per node sent.
 */

const RSS_SAMPLE_MS = 20;
/** Room for GetLineage's whole answer at 1,000,000 jobs, as the growth scenario gives it. */
const MAX_MESSAGE_BYTES = 1024 * 2 ** 20;
const READY_WAIT_MS = 600_000;

export const streamLineage: Scenario = {
  name: 'stream-lineage',
  async run(context: BenchContext) {
    const size = context.sizes.graph;
    const path = await context.graphDatabase(size);
    const root = lineageCases(size, 1).find((c) => c.name === FULL_ANCESTORS)!.roots[0]!;
    const request = { jobId: root, direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS };
    const measured = {
      StreamLineage: await onFreshServer(context, path, size, async (client) => {
        let nodes = 0;
        let messages = 0;
        for await (const message of client.streamLineage(request, { timeoutMs: READY_WAIT_MS })) {
          nodes += message.nodes.length;
          messages++;
        }
        return { nodes, messages };
      }),
      GetLineage: await onFreshServer(context, path, size, async (client) => {
        const answer = await client.getLineage({ ...request, view: LineageView.LINEAGE_VIEW_IDS });
        return { nodes: answer.nodes.length, messages: 1 };
      }),
    };
    const streamed = measured.StreamLineage;
    const whole = measured.GetLineage;
    if (streamed.nodes !== whole.nodes) throw new Error(`StreamLineage sent ${streamed.nodes} nodes, GetLineage answered ${whole.nodes}`);
    const perNode = (m: Measured) => ((m.peakMiB - m.beforeMiB) * 2 ** 20) / m.nodes;
    const notes = (m: Measured) => ({ jobs: size, nodes: m.nodes, 'RSS before MiB': m.beforeMiB, 'peak RSS MiB': m.peakMiB, seconds: m.seconds });
    context.report({ scenario: 'stream-lineage', name: `${size}: StreamLineage of ${FULL_ANCESTORS}, server peak RSS`, unit: 'MiB', value: streamed.peakMiB, notes: { ...notes(streamed), messages: streamed.messages } });
    context.report({ scenario: 'stream-lineage', name: `${size}: StreamLineage of ${FULL_ANCESTORS}, server RSS growth per node`, unit: 'bytes/node', value: perNode(streamed), notes: notes(streamed) });
    context.report({ scenario: 'stream-lineage', name: `${size}: GetLineage of ${FULL_ANCESTORS}, ids view, server peak RSS`, unit: 'MiB', value: whole.peakMiB, notes: notes(whole) });
    context.report({ scenario: 'stream-lineage', name: `${size}: GetLineage of ${FULL_ANCESTORS}, ids view, server RSS growth per node`, unit: 'bytes/node', value: perNode(whole), notes: notes(whole) });
  },
};

interface Measured {
  nodes: number;
  messages: number;
  beforeMiB: number;
  peakMiB: number;
  seconds: number;
}

/** Runs call on a server of its own on the graph's file, once the server is ready, sampling its RSS meanwhile. */
async function onFreshServer(
  context: BenchContext,
  path: string,
  size: number,
  call: (client: ProvenanceClient) => Promise<{ nodes: number; messages: number }>,
): Promise<Measured> {
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
      const { nodes, messages } = await call(client);
      peakMiB = Math.max(peakMiB, rssMiB(pid));
      return { nodes, messages, beforeMiB, peakMiB, seconds: elapsedMs(start) / 1000 };
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
