import { expect } from 'chai';
import { MemoryProvenanceStore } from '../../../src/adapters/memory/memory-provenance-store.js';
import { readerGrant } from '../../../src/domain/access.js';
import { LineageStreamWalk, type LineageStepRow } from '../../../src/domain/lineage-stream.js';
import { lineageEdges, type LineageDirection } from '../../../src/domain/lineage.js';
import type { LineageStreamMessage } from '../../../src/service/lineage-queries.js';
import { mulberry32, recordJobCommand } from '../../support/job-records.js';
import { memoryService, principal, type MemoryService } from '../../support/memory-service.js';
import { lineageObjects } from '../../support/lineage-objects.js';

const alice = principal('lab', 'alice');
const eve = principal('other-lab', 'eve');

/** The memory store, counting the steps of lineage walks asked of it; from step holdFrom on (1 first), each is held until failHeld(). */
class StepCountingStore extends MemoryProvenanceStore {
  steps = 0;
  holdFrom = Infinity;
  private readonly held: Array<(error: Error) => void> = [];

  override lineageStep(jobIds: readonly string[]): Promise<LineageStepRow[]> {
    if (++this.steps >= this.holdFrom) return new Promise((_resolve, reject) => this.held.push(reject));
    return super.lineageStep(jobIds);
  }

  failHeld(error: Error): number {
    for (const reject of this.held) reject(error);
    return this.held.splice(0).length;
  }
}

/** StreamLineage over the memory adapters: cut and resumed, it yields exactly GetLineage's answer. */
describe('use cases: StreamLineage', () => {
  let s: MemoryService;
  const JOBS = 600;
  const id = (i: number) => `job-${String(i).padStart(4, '0')}`;
  const store = new StepCountingStore();
  before(async () => {
    s = memoryService({ store });
    const random = mulberry32(16);
    const commands = [];
    for (let i = 0; i < JOBS; i++) {
      // Every seventh job is eve's, shared with nobody: alice sees it as a restricted placeholder. alice's jobs (shared with eve) consume hers only.
      const owner = i % 7 === 3 ? eve : alice;
      const parents = new Set<string>();
      for (let p = 0; p < Math.min(i, 3); p++) {
        const parent = Math.max(0, i - 1 - Math.floor(random() * 60));
        if (owner === eve || parent % 7 !== 3) parents.add(id(parent));
      }
      commands.push({ owner, command: recordJobCommand({ jobId: id(i), parentIds: [...parents], readers: owner === alice ? [readerGrant(eve)!] : [] }) });
    }
    for (const { owner, command } of commands) await s.service.recordJob(owner, command);
  });
  after(() => s.close());

  const all = async (messages: AsyncIterable<LineageStreamMessage>) => {
    const list: LineageStreamMessage[] = [];
    for await (const message of messages) list.push(message);
    return list;
  };
  /** The first message; the stream is then abandoned, as by a client that lost it. */
  const firstOf = async (messages: AsyncIterable<LineageStreamMessage>) => {
    for await (const message of messages) return message;
    throw new Error('no message');
  };

  const flatten = (messages: readonly LineageStreamMessage[]) => ({
    root: messages.flatMap((m) => (m.root ? [m.root.jobId] : [])),
    nodes: messages.flatMap((m) => m.nodes.map((n) => [n.row.jobId, n.depth, n.relation, n.restricted ?? false])),
    edges: messages.flatMap((m) => m.edges.map((e) => `${e.parentJobId}>${e.childJobId}`)).sort(),
    truncation: messages.at(-1)!.truncation,
  });

  for (const [label, directions, rootIndex] of [
    ['ancestors', ['ANCESTORS'], 550],
    ['descendants', ['DESCENDANTS'], 40],
    ['both', ['ANCESTORS', 'DESCENDANTS'], 300],
  ] as const) {
    it(`cut after each of 10 messages and resumed, yields exactly GetLineage's answer (${label})`, async () => {
      const jobId = id(rootIndex);
      const expected = await lineageObjects(await s.service.getLineage(alice, { jobId, directions: [...directions] as LineageDirection[], maxDepth: 0, maxNodes: 0, view: 'IDS' }));
      expect(expected.nodes.length).to.be.greaterThan(100);
      // alice's jobs never consume eve's: only descendants can be placeholders.
      if (directions.includes('DESCENDANTS' as never)) expect(expected.hiddenNodeCount).to.be.greaterThan(0);
      const command = { jobId, directions: [...directions] as LineageDirection[], maxDepth: 0, maxMessageNodes: Math.ceil(expected.nodes.length / 14) };
      const received: LineageStreamMessage[] = [];
      let resumeToken = '';
      for (let cut = 0; cut < 10; cut++) {
        // Each stream is abandoned after one message: the next one resumes from its token.
        const message = await firstOf(await s.service.streamLineage(alice, { ...command, resumeToken }));
        received.push(message!);
        resumeToken = message!.resumeToken;
      }
      received.push(...(await all(await s.service.streamLineage(alice, { ...command, resumeToken }))));
      expect(received.length).to.be.greaterThan(11);
      expect(received.slice(0, -1).every((m) => m.truncation === undefined)).to.equal(true);
      const got = flatten(received);
      expect(got.root).to.deep.equal([jobId]);
      expect(got.nodes).to.deep.equal(expected.nodes.map((n) => [n.row.jobId, n.depth, n.relation, n.restricted ?? false]));
      expect(got.edges).to.deep.equal(lineageEdges(expected).map((e) => `${e.parentJobId}>${e.childJobId}`).sort());
      expect(got.truncation).to.deep.equal([]);
    });
  }

  /** The steps the first message of 5 nodes of id(550)'s ancestry needs: the root, then layers until 6 nodes are in hand (so that it knows it is not the last). */
  async function stepsForFirstMessage(): Promise<number> {
    const walk = new LineageStreamWalk({ rootId: id(550), directions: ['ANCESTORS'], maxDepth: 100, maxNodes: 10_000, mayRead: () => true, placeholder: (jobId) => jobId });
    let needed = 0;
    for (let inHand = 0, jobIds = walk.nextStep(); inHand <= 5 && jobIds; jobIds = walk.nextStep(), needed++) inHand += walk.accept(await store.lineageStep(jobIds)).length;
    return needed;
  }

  it('walks only as far as the messages asked for, one step ahead: a stream not read on holds its walk where it is', async () => {
    const needed = await stepsForFirstMessage();
    expect(needed).to.be.within(2, 4);
    store.steps = 0;
    const command = { jobId: id(550), directions: ['ANCESTORS'] as LineageDirection[], maxDepth: 0, maxMessageNodes: 5, resumeToken: '' };
    const messages = (await s.service.streamLineage(alice, command))[Symbol.asyncIterator]();
    expect(store.steps).to.equal(0);
    await messages.next();
    // Those, and the next one, read while the first message is sent.
    const forFirst = store.steps;
    expect(forFirst).to.equal(needed + 1);
    while (!(await messages.next()).done);
    expect(store.steps).to.be.greaterThan(3 * forFirst);
  });

  it('a stream abandoned while its step read ahead is pending leaves no unhandled rejection when that read fails', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const needed = await stepsForFirstMessage();
      store.steps = 0;
      // The read ahead of the first message is held.
      store.holdFrom = needed + 1;
      const command = { jobId: id(550), directions: ['ANCESTORS'] as LineageDirection[], maxDepth: 0, maxMessageNodes: 5, resumeToken: '' };
      const messages = (await s.service.streamLineage(alice, command))[Symbol.asyncIterator]();
      expect((await messages.next()).done).to.equal(false);
      await messages.return!(undefined);
      expect(store.failHeld(new Error('the store went away'))).to.equal(1);
      // Node reports an unhandled rejection once the microtasks after it have run: a macrotask later it would have.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).to.deep.equal([]);
    } finally {
      store.holdFrom = Infinity;
      process.off('unhandledRejection', record);
    }
  });

  it('after the last message, a resumed stream sends one empty closing message', async () => {
    const command = { jobId: id(5), directions: ['ANCESTORS'] as LineageDirection[], maxDepth: 0, maxMessageNodes: 0, resumeToken: '' };
    const whole = await all(await s.service.streamLineage(alice, command));
    expect(whole).to.have.length(1);
    const after = await all(await s.service.streamLineage(alice, { ...command, resumeToken: whole[0]!.resumeToken }));
    expect(after.map((m) => [m.nodes.length, m.edges.length, m.truncation])).to.deep.equal([[0, 0, []]]);
  });

  it('refuses a forged token, a token of another query or caller, and negative limits (INVALID_ARGUMENT)', async () => {
    const command = { jobId: id(300), directions: ['ANCESTORS'] as LineageDirection[], maxDepth: 0, maxMessageNodes: 5, resumeToken: '' };
    const first = await firstOf(await s.service.streamLineage(alice, command));
    const refusal = async (who: typeof alice, changed: Partial<typeof command>) => {
      try {
        await s.service.streamLineage(who, { ...command, ...changed });
      } catch (error) {
        return (error as { code?: string; details?: { fieldViolations?: Array<{ field: string }> } });
      }
      throw new Error('not refused');
    };
    for (const [who, changed] of [
      [alice, { resumeToken: 'forged' }],
      [alice, { resumeToken: first!.resumeToken, directions: ['DESCENDANTS'] }],
      [eve, { resumeToken: first!.resumeToken }],
      // A subject of the same name in another tenant is another caller.
      [principal('other-lab', alice.subject), { resumeToken: first!.resumeToken }],
    ] as const) {
      const error = await refusal(who, changed as Partial<typeof command>);
      expect(error.code).to.equal('INVALID_ARGUMENT');
      expect(error.details?.fieldViolations?.map((v) => v.field)).to.deep.equal(['resume_token']);
    }
    expect((await refusal(alice, { maxMessageNodes: -1 })).code).to.equal('INVALID_ARGUMENT');
  });

  it("refuses another tenant's root as NOT_FOUND", async () => {
    const other = principal('third-lab', 'mallory');
    try {
      await s.service.streamLineage(other, { jobId: id(300), directions: ['ANCESTORS'], maxDepth: 0, maxMessageNodes: 0, resumeToken: '' });
      expect.fail('not refused');
    } catch (error) {
      expect((error as { code?: string }).code).to.equal('NOT_FOUND');
    }
  });
});
