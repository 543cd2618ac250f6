import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import {
  JobStatus,
  LineageDirection,
  LineageView,
  StreamLineageRequest,
  StreamLineageResponse,
  type DeepPartial,
  type GetLineageResponse,
} from '@provenance/client';
import { bearerTokens } from '../support/bearer-tokens.js';
import { makeTemporaryDirectory, type TemporaryDirectory } from '../support/credentials.js';
import { connect, statusDetails, type Client } from '../support/grpc-client.js';
import { mulberry32 } from '../support/job-records.js';
import { startMongoLane, type MongoLane } from '../support/mongo-lane.js';
import { openEventStream } from '../support/rest.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const SUCCEEDED = JobStatus.JOB_STATUS_SUCCEEDED;

interface Lane {
  name: string;
  jobs: number;
  start(directory: string, env: Record<string, string>): Promise<ServerProcess>;
  dispose(): Promise<void>;
}

let mongo: MongoLane | undefined;
const lanes: Lane[] = [
  { name: 'SQLite', jobs: 3000, start: (directory, env) => startServer({ ...env, PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db') }), dispose: async () => undefined },
  {
    name: process.env.MONGODB_URI ? 'MongoDB' : 'MongoDB emulator',
    // The emulator is quadratic on big graphs.
    jobs: process.env.MONGODB_URI ? 3000 : 400,
    async start(_directory, env) {
      mongo = await startMongoLane();
      return startServer({ ...env, MONGODB_URI: mongo.uri, PROVENANCE_MONGODB_DATABASE: mongo.newDatabaseName() });
    },
    dispose: async () => mongo?.stop(),
  },
];

/**
 * StreamLineage on a live server, on each store: gRPC streams cut by the
 * client after a message and resumed with its token yield exactly
 * GetLineage's answer; its refusals; its REST twin as server-sent events;
 * the TypeScript client's async iterator.
 */
for (const lane of lanes) describe(`StreamLineage (${lane.name})`, function () {
  this.timeout(180_000);
  const tokens = bearerTokens();
  const JOBS = lane.jobs;
  const id = (i: number) => `sl-${String(i).padStart(5, '0')}`;
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  let alice: Client, eve: Client, mallory: Client;
  let aliceHeader: { authorization: string };

  before(async () => {
    directory = await makeTemporaryDirectory();
    server = await lane.start(directory.path, { ...tokens.env, PROVENANCE_RATE_LIMIT: '0' });
    aliceHeader = await tokens.header('alice', 'lab', ['submitter']);
    alice = connect(server.address, { headers: aliceHeader });
    eve = connect(server.address, { headers: await tokens.header('eve', 'lab', ['submitter']) });
    mallory = connect(server.address, { headers: await tokens.header('mallory', 'elsewhere', ['submitter']) });
    // alice's random DAG; eve (her tenant) may read it but not use her resume tokens; mallory (another tenant) may not read it.
    const random = mulberry32(1616);
    const requests = [];
    for (let i = 0; i < JOBS; i++) {
      const parents = new Set<string>();
      for (let p = 0; p < Math.min(i, 3); p++) parents.add(id(Math.max(0, i - 1 - Math.floor(random() * Math.min(200, JOBS / 20)))));
      requests.push({ jobId: id(i), type: 'step', parentJobIds: [...parents], status: SUCCEEDED, outputHash: 'h' });
    }
    for (let start = 0; start < JOBS; start += 1000) {
      const response = await alice.batchRecordJobs({ requests: requests.slice(start, start + 1000) });
      expect(response.results.every((r) => r.status!.code === 0)).to.equal(true);
    }
  });
  after(async () => {
    for (const client of [alice, eve, mallory]) client?.close();
    await server?.stop();
    await lane.dispose();
    await directory?.remove();
  });

  /** The first message of a raw gRPC stream, which is then cancelled: a client that lost its stream after processing one message. */
  const firstMessage = (client: Client, request: DeepPartial<StreamLineageRequest>) =>
    new Promise<StreamLineageResponse>((resolve, reject) => {
      const call = client.raw.streamLineage(StreamLineageRequest.fromPartial(request));
      call.once('data', (message: StreamLineageResponse) => {
        resolve(message);
        call.cancel();
      });
      call.on('error', (error: ServiceError) => (error.code === status.CANCELLED ? undefined : reject(error)));
    });

  const allMessages = (client: Client, request: DeepPartial<StreamLineageRequest>) =>
    new Promise<StreamLineageResponse[]>((resolve, reject) => {
      const messages: StreamLineageResponse[] = [];
      const call = client.raw.streamLineage(StreamLineageRequest.fromPartial(request));
      call.on('data', (message: StreamLineageResponse) => messages.push(message));
      call.on('end', () => resolve(messages));
      call.on('error', reject);
    });

  const edgesOf = (answer: Pick<GetLineageResponse, 'edges'>) => answer.edges.map((e) => `${e.parentJobId}>${e.childJobId}`).sort();
  const nodesOf = (answer: Pick<GetLineageResponse, 'nodes'>) => answer.nodes.map((n) => [n.jobId, n.depth, n.relation, n.restricted]);
  const joined = (messages: readonly StreamLineageResponse[]) => ({
    root: messages.flatMap((m) => (m.root ? [m.root.jobId] : [])),
    nodes: nodesOf({ nodes: messages.flatMap((m) => m.nodes) }),
    edges: edgesOf({ edges: messages.flatMap((m) => m.edges) }),
  });

  for (const [label, direction, root] of [
    ['ancestors', LineageDirection.LINEAGE_DIRECTION_ANCESTORS, id(JOBS - 100)],
    ['descendants', LineageDirection.LINEAGE_DIRECTION_DESCENDANTS, id(Math.floor(JOBS / 30))],
  ] as const) {
    it(`cut 10 times and resumed, yields exactly GetLineage's answer (${label})`, async () => {
      const expected = await alice.getLineage({ jobId: root, direction, view: LineageView.LINEAGE_VIEW_IDS });
      expect(expected.truncated).to.equal(false);
      expect(expected.nodes.length).to.be.greaterThan(JOBS / 10);
      const maxMessageNodes = Math.ceil(expected.nodes.length / 14);
      const request = { jobId: root, direction, maxMessageNodes };
      const received: StreamLineageResponse[] = [];
      let resumeToken = '';
      for (let cut = 0; cut < 10; cut++) {
        const message = await firstMessage(alice, { ...request, resumeToken });
        received.push(message);
        resumeToken = message.resumeToken;
      }
      const rest = await allMessages(alice, { ...request, resumeToken });
      received.push(...rest);
      expect(received.filter((m) => m.last)).to.have.length(1);
      expect(received.at(-1)!.last).to.equal(true);
      expect(received.every((m) => m.nodes.length <= maxMessageNodes)).to.equal(true);
      expect(joined(received)).to.deep.equal({ root: [root], nodes: nodesOf(expected), edges: edgesOf(expected) });
    });
  }

  it('refuses a forged token and one of another caller with INVALID_ARGUMENT (resume_token)', async () => {
    const request = { jobId: id(JOBS - 100), direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS, maxMessageNodes: 10 };
    const { resumeToken } = await firstMessage(alice, request);
    for (const [client, token] of [
      [alice, 'forged'],
      [eve, resumeToken],
    ] as const) {
      const error = (await allMessages(client, { ...request, resumeToken: token }).then(
        () => expect.fail('not refused'),
        (e: unknown) => e,
      )) as ServiceError;
      expect(error.code).to.equal(status.INVALID_ARGUMENT);
      expect(statusDetails(error).badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['resume_token']);
    }
  });

  it("refuses another tenant's root with NOT_FOUND", async () => {
    const error = (await allMessages(mallory, { jobId: id(5) }).then(
      () => expect.fail('not refused'),
      (e: unknown) => e,
    )) as ServiceError;
    expect(error.code).to.equal(status.NOT_FOUND);
  });

  it('shows a job the caller may not read as a placeholder, as GetLineage does', async () => {
    // A job of alice's shared with mallory, which mallory's job consumes: alice may not read that one.
    const shared = await alice.recordJob({ jobId: 'sl-shared', type: 'step', parentJobIds: [id(0)], status: SUCCEEDED, outputHash: 'h', readerSubjects: ['elsewhere/mallory'] });
    await mallory.recordJob({ jobId: 'sl-mallory-child', type: 'other', parentJobIds: [shared.jobId], status: SUCCEEDED, outputHash: 'h' });
    const request = { jobId: shared.jobId, direction: LineageDirection.LINEAGE_DIRECTION_DESCENDANTS };
    const expected = await alice.getLineage({ ...request, view: LineageView.LINEAGE_VIEW_IDS });
    expect(expected.hiddenNodeCount).to.equal(1);
    const streamed = joined(await allMessages(alice, request));
    expect(streamed.nodes).to.deep.equal(nodesOf(expected));
    expect(streamed.nodes[0]![3]).to.equal(true);
    expect(JSON.stringify(streamed)).to.not.contain('sl-mallory-child');
  });

  it('is served as server-sent events, each with its resume token as id, and resumes from Last-Event-ID', async () => {
    const root = id(JOBS - 100);
    const path = `/jobs/${root}/lineage:stream?direction=LINEAGE_DIRECTION_ANCESTORS&max_message_nodes=${Math.ceil(JOBS / 6)}`;
    const expected = await alice.getLineage({ jobId: root, direction: LineageDirection.LINEAGE_DIRECTION_ANCESTORS, view: LineageView.LINEAGE_VIEW_IDS });
    const first = await openEventStream(server.httpAddress, path, aliceHeader);
    expect(first.response.status).to.equal(200);
    const [opening] = await first.next(1);
    first.close();
    const message = StreamLineageResponse.fromJSON(opening!.data);
    expect(opening!.id).to.equal(message.resumeToken);
    const resumed = await openEventStream(server.httpAddress, path, { ...aliceHeader, 'Last-Event-ID': opening!.id! });
    const messages = [message];
    while (!messages.at(-1)!.last) messages.push(StreamLineageResponse.fromJSON((await resumed.next(1))[0]!.data));
    resumed.close();
    expect(joined(messages)).to.deep.equal({ root: [root], nodes: nodesOf(expected), edges: edgesOf(expected) });
  });

  it("is the TypeScript client's async iterator", async () => {
    const root = id(Math.floor(JOBS / 30));
    const request = { jobId: root, direction: LineageDirection.LINEAGE_DIRECTION_DESCENDANTS };
    const expected = await alice.getLineage({ ...request, view: LineageView.LINEAGE_VIEW_IDS });
    const messages: StreamLineageResponse[] = [];
    for await (const message of alice.streamLineage(request)) messages.push(message);
    expect(messages.every((m) => m.nodes.length <= 1000)).to.equal(true);
    expect(joined(messages)).to.deep.equal({ root: [root], nodes: nodesOf(expected), edges: edgesOf(expected) });
  });
});
