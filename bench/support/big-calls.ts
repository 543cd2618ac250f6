import { get as httpGet, type IncomingMessage } from 'node:http';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { LineageDirection, LineageView, ProvenanceClient } from '@provenance/client';
import { ExportProvenanceGraphRequest, GraphFormat, ProvenanceServiceService } from '@provenance/client/gen/provenance/v1/provenance_service';
import { ClientProcesses, serveClientRoles } from './client-processes.js';
import type { BenchContext } from './context.js';
import { readJsonObjectStream } from './json-body.js';
import { rawAnswer } from './raw-answer.js';
import { FULL_ANCESTORS, serviceLineage, type LineageCase } from './lineage-cases.js';
import { GetJobProbe, PROBE_WAIT_LIMIT_MS } from './probe.js';
import { percentile } from './stats.js';

/**
 * The big calls of issue #18 item 4, each asked beside the GetJob probe: every
 * call that walks a whole lineage and answers it (or a first page of it), in
 * every form it takes (views, REST, export formats). The longest a GetJob
 * waited during each kind is a figure of its own, so that a kind that still
 * holds the event loop in one block shows by name. The calls are made from
 * a process of their own: decoding a whole ancestry takes the client
 * seconds, and the bench process, which reads the server's log pipe, would
 * leave it full meanwhile; the server's logger then sleeps until the pipe
 * drains (pino writes synchronously), a wait the probe would count.
 */

export interface BigCallTargets {
  /** host:port of the gRPC listener (the probe's target). */
  address: string;
  /** The largest answer the client takes, and how long a call may last. */
  maxMessageBytes: number;
  timeoutMs: number;
  /** host:port of the server's HTTP listener (the REST gateway). */
  httpAddress: string;
  /** Late jobs, whose whole ancestry is the graph's largest lineage. */
  ancestors: LineageCase;
  /** Early jobs, whose descendants are most of the graph. */
  descendants: LineageCase;
  /** The job the probe reads. */
  probedJob: string;
}

/** One kind of big call: call answers the size of its answer, in the unit size names. */
interface BigCall {
  name: string;
  roots: 'ancestors' | 'descendants';
  size: 'nodes' | 'jobs checked' | 'bytes' | 'dependents (a page)';
  call(targets: CallTargets, root: string): Promise<number>;
}

/** What a call is made with, in the calling process. */
type CallTargets = Pick<BigCallTargets, 'httpAddress' | 'ancestors' | 'descendants' | 'timeoutMs'> & { client: ProvenanceClient };

const ANCESTORS = LineageDirection.LINEAGE_DIRECTION_ANCESTORS;

async function text(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** ExportProvenanceGraphResponse's fields read here. */
const EXPORT_JOBS_FIELD = 1;
const EXPORT_TRUNCATED_FIELD = 3;
const EXPORT_CONTENT_FIELD = 7;

/**
 * ExportProvenanceGraph, its answer read as bytes rather than decoded: the
 * PROV-JSON document of a whole ancestry at 1,000,000 jobs is more text
 * than a JavaScript string can hold (2^29 - 24 characters), so the
 * generated client cannot decode it (INTERNAL, "Response message parsing
 * error"). Answers the native format's jobs (the root left out) or the
 * document's bytes.
 */
function exported(format: GraphFormat): BigCall['call'] {
  return async ({ client, timeoutMs }, root) => {
    const request = ExportProvenanceGraphRequest.fromPartial({ jobId: root, direction: ANCESTORS, format });
    const answer = await rawAnswer(client, ProvenanceServiceService.exportProvenanceGraph, request, timeoutMs);
    let jobs = 0;
    let contentBytes = 0;
    let truncated = false;
    const reader = new BinaryReader(answer);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === EXPORT_TRUNCATED_FIELD) truncated = reader.bool();
      else if (field === EXPORT_CONTENT_FIELD) contentBytes = reader.bytes().length;
      else {
        if (field === EXPORT_JOBS_FIELD) jobs++;
        reader.skip(wireType, field);
      }
    }
    if (truncated) throw new Error(`the export of ${root} was truncated: raise the server's limits`);
    return format === GraphFormat.GRAPH_FORMAT_NATIVE ? jobs - 1 : contentBytes;
  };
}

/** The kind of big call that is a whole lineage in the ids view, as serviceLineage makes it. */
export const IDS_LINEAGE = 'GetLineage, ids view';

const BIG_CALLS: BigCall[] = [
  { name: IDS_LINEAGE, roots: 'ancestors', size: 'nodes', call: ({ client, ancestors }, root) => serviceLineage(client, ancestors, root, LineageView.LINEAGE_VIEW_IDS) },
  { name: 'GetLineage, compact view', roots: 'ancestors', size: 'nodes', call: ({ client, ancestors }, root) => serviceLineage(client, ancestors, root, LineageView.LINEAGE_VIEW_COMPACT) },
  { name: 'GetLineage, full view', roots: 'ancestors', size: 'nodes', call: ({ client, ancestors }, root) => serviceLineage(client, ancestors, root, LineageView.LINEAGE_VIEW_FULL) },
  {
    name: 'REST GetLineage, full view',
    roots: 'ancestors',
    size: 'nodes',
    call: async ({ httpAddress }, root) => {
      // node:http, not fetch: fetch gives up on an answer whose head takes over 300 s (undici's headersTimeout), as a whole ancestry's full view at 1,000,000 jobs does on a loaded machine.
      const url = `http://${httpAddress}/jobs/${encodeURIComponent(root)}/lineage?direction=ancestors&view=full`;
      const response = await new Promise<IncomingMessage>((resolve, reject) => httpGet(url, resolve).on('error', reject));
      if (response.statusCode !== 200) throw new Error(`REST GetLineage of ${root} answered ${response.statusCode}: ${(await text(response)).slice(0, 500)}`);
      // Counted as it streams: a whole ancestry at 1,000,000 jobs is more JSON than one string can hold.
      const body = await readJsonObjectStream(response, 'nodes');
      if (body.scalars.get('truncated') === 'true') throw new Error(`REST GetLineage of ${root} was truncated: raise the server's limits`);
      return body.elements;
    },
  },
  { name: 'ExportProvenanceGraph, native', roots: 'ancestors', size: 'nodes', call: exported(GraphFormat.GRAPH_FORMAT_NATIVE) },
  { name: 'ExportProvenanceGraph, PROV-JSON', roots: 'ancestors', size: 'bytes', call: exported(GraphFormat.GRAPH_FORMAT_PROV_JSON) },
  { name: 'ExportProvenanceGraph, DOT', roots: 'ancestors', size: 'bytes', call: exported(GraphFormat.GRAPH_FORMAT_DOT) },
  { name: 'ExportProvenanceGraph, Mermaid', roots: 'ancestors', size: 'bytes', call: exported(GraphFormat.GRAPH_FORMAT_MERMAID) },
  {
    name: 'CheckReproducibility',
    roots: 'ancestors',
    size: 'jobs checked',
    call: async ({ client }, root) => (await client.checkReproducibility({ jobId: root })).checkedAncestorCount,
  },
  {
    name: 'transitive ListDependents, first page',
    roots: 'descendants',
    size: 'dependents (a page)',
    call: async ({ client }, root) => (await client.listDependents({ jobId: root, transitive: true, pageSize: 100 })).dependents.length,
  },
];

/** How many big-call figures measureBigCallWaits reports. */
export const BIG_CALL_KINDS = BIG_CALLS.length;

/**
 * A process of its own that makes big calls (the module's comment says why),
 * to the server each call names: it can be started before the server is.
 * call answers the size of the answer, in its kind's unit.
 */
export class BigCaller {
  private constructor(private readonly processes: ClientProcesses) {}

  static async start(limits: CallerLimits): Promise<BigCaller> {
    return new BigCaller(await ClientProcesses.start(import.meta.url, BIG_CALLER_ROLE, [limits]));
  }

  async call(targets: BigCallTargets, kind: string, root: string): Promise<number> {
    const { address, httpAddress, ancestors, descendants } = targets;
    const [answer] = await this.processes.all<number>('call', () => ({ kind, root, targets: { address, httpAddress, ancestors, descendants } }) satisfies CallRequest);
    return answer!.result;
  }

  close(): Promise<void> {
    return this.processes.close();
  }
}

/**
 * For each kind of big call, the longest GetJob wait while callsPerKind of
 * them ran one after the other (on the first roots of their case), reported
 * as `<prefix>longest GetJob wait during <kind> (<case>)`.
 */
export async function measureBigCallWaits(
  context: BenchContext,
  scenario: string,
  prefix: string,
  probe: GetJobProbe,
  targets: BigCallTargets,
  callsPerKind: number,
): Promise<void> {
  const caller = await BigCaller.start(targets);
  try {
    for (const kind of BIG_CALLS) {
      const lineageCase = targets[kind.roots];
      const roots = lineageCase.roots.slice(0, callsPerKind);
      const sizes: number[] = [];
      const { probe: waited } = await probe.during(targets.address, targets.probedJob, async () => {
        for (const root of roots) sizes.push(await caller.call(targets, kind.name, root));
      });
      context.report({
        scenario,
        name: `${prefix}longest GetJob wait during ${kind.name} (${lineageCase.name === FULL_ANCESTORS ? 'whole ancestry' : lineageCase.name})`,
        unit: 'ms',
        value: waited.longestMs,
        limit: { max: PROBE_WAIT_LIMIT_MS },
        notes: { calls: roots.length, [`${kind.size} p50`]: percentile(sizes, 0.5), 'probe calls': waited.calls, 'probe p50 ms': waited.p50Ms },
      });
    }
  } finally {
    await caller.close();
  }
}

/** The largest answer the caller takes, and how long a call may last. */
type CallerLimits = Pick<BigCallTargets, 'maxMessageBytes' | 'timeoutMs'>;

interface CallRequest {
  kind: string;
  root: string;
  targets: Pick<BigCallTargets, 'address' | 'httpAddress' | 'ancestors' | 'descendants'>;
}

const BIG_CALLER_ROLE = 'big-caller';

serveClientRoles(import.meta.url, {
  [BIG_CALLER_ROLE]: async ({ maxMessageBytes, timeoutMs }: CallerLimits) => {
    const clients = new Map<string, ProvenanceClient>();
    const clientOf = (address: string) => {
      let client = clients.get(address);
      if (!client) clients.set(address, (client = new ProvenanceClient({ address, timeoutMs, channelOptions: { 'grpc.max_receive_message_length': maxMessageBytes } })));
      return client;
    };
    return {
      call: ({ kind, root, targets }: CallRequest) => BIG_CALLS.find((k) => k.name === kind)!.call({ ...targets, timeoutMs, client: clientOf(targets.address) }, root),
    };
  },
});
