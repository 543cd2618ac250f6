import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { JobHandler, JobHandlerInput } from '../../src/domain/ports/job-handlers.js';
import { outputHash } from '../../src/domain/hashing.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import { createDefaultRegistry, echo, fail, MAX_SLEEP_MS, merge, sha256, sleep } from '../../src/handlers/built-in-handlers.js';
import { loadHandlerModules } from '../../src/handlers/handler-modules.js';
import { HandlerRegistry } from '../../src/handlers/handler-registry.js';

const EXAMPLE = fileURLToPath(new URL('../../../docs/examples/word-count-handler.mjs', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`../../../test/fixtures/handlers/${name}`, import.meta.url));
/** The way an operator writes a path in PROVENANCE_HANDLERS: relative to the working directory. */
const fromCwd = (path: string): string => `./${relative(process.cwd(), path)}`;

function input(overrides: Partial<JobHandlerInput> = {}): JobHandlerInput {
  return {
    jobId: 'job-1',
    type: 'test',
    payload: {},
    provider: { id: '', model: '', version: '' },
    parents: [],
    attempt: 1,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Runs a handler and returns what it threw (failing the test when it did not throw). */
async function thrownBy(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** Counts live timers once mocha has armed its own timeout timer, which it does after an async test's first await. */
async function activeTimers(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

const returns =
  (value: JsonValue): JobHandler =>
  () =>
    value;

describe('HandlerRegistry', () => {
  it('prefers the handler of (type, provider), and falls back to the handler of the type', () => {
    const registry = new HandlerRegistry();
    const general = returns('general');
    const gpu = returns('gpu');
    registry.register({ type: 'train', handler: general, source: 'test' });
    registry.register({ type: 'train', providerId: 'gpu-pool', handler: gpu, source: 'test' });
    expect(registry.find('train', 'gpu-pool')).to.equal(gpu);
    expect(registry.find('train', 'cpu-pool')).to.equal(general);
    expect(registry.find('train', '')).to.equal(general);
    expect(registry.find('predict', 'gpu-pool')).to.equal(undefined);
  });

  it('finds nothing for a provider without a handler when the type has only provider handlers', () => {
    const registry = new HandlerRegistry();
    registry.register({ type: 'train', providerId: 'gpu-pool', handler: returns('gpu'), source: 'test' });
    expect(registry.find('train', 'cpu-pool')).to.equal(undefined);
    expect(registry.find('train', '')).to.equal(undefined);
    expect(registry.types()).to.deep.equal(['train']);
  });

  it('lists each type once, sorted by code units', () => {
    const registry = new HandlerRegistry();
    for (const [type, providerId] of [['b', undefined], ['b', 'p1'], ['b', 'p2'], ['a', 'p1'], ['B', undefined], ['a.z', undefined]] as const) {
      registry.register({ type, providerId, handler: returns(type), source: 'test' });
    }
    expect(registry.types()).to.deep.equal(['B', 'a', 'a.z', 'b']);
  });

  it('refuses a second handler for the same type, naming who registered the first', () => {
    const registry = new HandlerRegistry();
    registry.register({ type: 'train', handler: returns(1), source: 'module A' });
    expect(() => registry.register({ type: 'train', handler: returns(2), source: 'module B' })).to.throw(
      'a handler for type "train" is already registered by module A',
    );
    registry.register({ type: 'train', providerId: 'gpu', handler: returns(3), source: 'module A' });
    expect(() => registry.register({ type: 'train', providerId: 'gpu', handler: returns(4), source: 'module B' })).to.throw(
      'a handler for type "train" and provider "gpu" is already registered by module A',
    );
    expect(registry.find('train', 'gpu')!(input())).to.equal(3);
  });

  it('registers all of a batch or none of it', () => {
    const registry = new HandlerRegistry();
    registry.register({ type: 'taken', handler: returns(1), source: 'first' });
    expect(() =>
      registry.registerAll([
        { type: 'fresh', handler: returns(2), source: 'second' },
        { type: 'taken', handler: returns(3), source: 'second' },
      ]),
    ).to.throw('already registered by first');
    expect(() =>
      registry.registerAll([
        { type: 'fresh', handler: returns(2), source: 'second' },
        { type: 'fresh', handler: returns(3), source: 'second' },
      ]),
    ).to.throw('a handler for type "fresh" is registered twice by second');
    expect(registry.find('fresh', '')).to.equal(undefined);
    expect(registry.types()).to.deep.equal(['taken']);
  });

  it('takes job types by the rule of job types, and refuses others', () => {
    const registry = new HandlerRegistry();
    for (const type of ['a', 'ml/train:v2-x_y.z', `T${'x'.repeat(127)}`]) {
      registry.register({ type, handler: returns(type), source: 'test' });
    }
    for (const type of ['', '1abc', '.hidden', 'has space', 'emoji😀', `T${'x'.repeat(128)}`]) {
      expect(() => registry.register({ type, handler: returns(type), source: 'test' }), type).to.throw(
        `job type ${JSON.stringify(type)} is invalid`,
      );
    }
    expect(registry.types()).to.have.length(3);
  });

  it('refuses an empty or overlong provider id and a handler that is not a function', () => {
    const registry = new HandlerRegistry();
    expect(() => registry.register({ type: 't', providerId: '', handler: returns(1), source: 'test' })).to.throw(
      'provider id "" of type "t" must be 1 to 256 characters',
    );
    expect(() => registry.register({ type: 't', providerId: 'p'.repeat(257), handler: returns(1), source: 'test' })).to.throw(
      'must be 1 to 256 characters',
    );
    expect(() => registry.register({ type: 't', handler: 'echo' as unknown as JobHandler, source: 'test' })).to.throw(
      'a handler for type "t" is a string, not a function',
    );
    expect(registry.types()).to.deep.equal([]);
  });
});

describe('built-in handlers', () => {
  it('createDefaultRegistry registers echo, fail, merge, sha256 and sleep for every provider', () => {
    const registry = createDefaultRegistry();
    expect(registry.types()).to.deep.equal(['echo', 'fail', 'merge', 'sha256', 'sleep']);
    expect(registry.find('echo', 'any-provider')).to.equal(echo);
    expect(registry.find('sleep', '')).to.equal(sleep);
    expect(() => registry.register({ type: 'echo', handler: returns(1), source: 'test' })).to.throw(
      'already registered by the built-in handlers',
    );
  });

  describe('echo', () => {
    it('returns the payload', async () => {
      const payload = { text: 'hello', nested: { list: [1, null, true] } };
      expect(await echo(input({ payload }))).to.deep.equal({ text: 'hello', nested: { list: [1, null, true] } });
    });
  });

  describe('sleep', () => {
    it('waits payload.ms and answers how long', async () => {
      const started = performance.now();
      expect(await sleep(input({ payload: { ms: 40 } }))).to.deep.equal({ sleptMs: 40 });
      expect(performance.now() - started).to.be.at.least(39);
    });

    it('sleeps 0 ms, and up to the cap', async () => {
      expect(await sleep(input({ payload: { ms: 0 } }))).to.deep.equal({ sleptMs: 0 });
      const controller = new AbortController();
      const longest = sleep(input({ payload: { ms: MAX_SLEEP_MS }, signal: controller.signal }));
      controller.abort(new Error('enough'));
      expect((await thrownBy(() => longest)).message).to.equal('enough');
    });

    it('rejects promptly with the abort reason, leaving no timer and no listener behind', async () => {
      const controller = new AbortController();
      const timersBefore = await activeTimers();
      const sleeping = sleep(input({ payload: { ms: 60_000 }, signal: controller.signal }));
      expect(await activeTimers()).to.equal(timersBefore + 1);
      expect(getEventListeners(controller.signal, 'abort')).to.have.length(1);
      const started = performance.now();
      const reason = new Error('job cancelled');
      setTimeout(() => controller.abort(reason), 20);
      expect(await thrownBy(() => sleeping)).to.equal(reason);
      // Promptly: far sooner than the minute it was asked to sleep, however busy the machine.
      expect(performance.now() - started).to.be.below(10_000);
      expect(await activeTimers()).to.equal(timersBefore);
      expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
    });

    it('removes its abort listener when it finishes', async () => {
      const controller = new AbortController();
      await sleep(input({ payload: { ms: 1 }, signal: controller.signal }));
      expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
    });

    it('does not start when the signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('shutting down'));
      const timersBefore = await activeTimers();
      const error = await thrownBy(() => sleep(input({ payload: { ms: 60_000 }, signal: controller.signal })));
      expect(error.message).to.equal('shutting down');
      expect(await activeTimers()).to.equal(timersBefore);
    });

    it('refuses a missing, negative, non-numeric or too long ms', async () => {
      const cases: Array<[JsonObject, string]> = [
        [{}, 'got nothing'],
        [{ ms: -1 }, 'got the number -1'],
        [{ ms: '100' }, 'got the string "100"'],
        [{ ms: null }, 'got null'],
        [{ ms: MAX_SLEEP_MS + 1 }, `got the number ${MAX_SLEEP_MS + 1}`],
      ];
      for (const [payload, got] of cases) {
        const error = await thrownBy(() => sleep(input({ payload })));
        expect(error.message).to.equal(`sleep: payload.ms must be a number of milliseconds from 0 to 600000, ${got}`);
      }
    });
  });

  describe('sha256', () => {
    // The canonical text is written by hand (RFC 8785: sorted keys, no spaces), so the test does not trust canonicalJson.
    it('hashes the canonical JSON of the payload and the parents’ output hashes in parent order', async () => {
      const parents = [
        { jobId: 'z-first', outputHash: 'h1', output: { ignored: true } },
        { jobId: 'a-second', outputHash: 'h2' },
      ];
      const expected = createHash('sha256').update('{"parents":["h1","h2"],"payload":{"a":"x","b":1}}').digest('hex');
      expect(await sha256(input({ payload: { b: 1, a: 'x' }, parents }))).to.deep.equal({ sha256: expected });
    });

    it('changes with the parent order and the payload, not with the payload’s key order', async () => {
      const parents = [
        { jobId: 'p1', outputHash: 'h1' },
        { jobId: 'p2', outputHash: 'h2' },
      ];
      const digest = async (payload: JsonObject, ps: JobHandlerInput['parents']): Promise<JsonValue> => sha256(input({ payload, parents: ps }));
      const base = await digest({ a: 1, b: 2 }, parents);
      expect(await digest({ b: 2, a: 1 }, parents)).to.deep.equal(base);
      expect(await digest({ a: 1, b: 2 }, [...parents].reverse())).not.to.deep.equal(base);
      expect(await digest({ a: 1, b: 3 }, parents)).not.to.deep.equal(base);
      expect(await digest({}, [])).to.deep.equal({ sha256: createHash('sha256').update('{"parents":[],"payload":{}}').digest('hex') });
    });

    it('gives the output that docs/handlers.md shows', async () => {
      const echoed = await echo(input({ payload: { text: 'hello world' } }));
      const echoHash = outputHash(echoed);
      expect(echoHash).to.equal('e344fa3b83cf2b142293de2a4e56c6b211d4a157f8adb3c954c51ab67f41a46a');
      expect(await sha256(input({ payload: { salt: 'v1' }, parents: [{ jobId: 'echo-job', outputHash: echoHash, output: echoed }] }))).to.deep.equal({
        sha256: '80756a66d7bceb0e3399833c97b2f77cfd5c4bf15c3c3c56e614a3e2d7dada73',
      });
    });
  });

  describe('merge', () => {
    it('merges object outputs left to right, the later parent winning, without merging deeper', async () => {
      const parents: JobHandlerInput['parents'] = [
        { jobId: 'left', outputHash: 'h1', output: { a: 1, shared: 'left', nested: { x: 1, y: 1 } } },
        { jobId: 'right', outputHash: 'h2', output: { b: 2, shared: 'right', nested: { y: 2 } } },
      ];
      expect(await merge(input({ parents }))).to.deep.equal({
        merged: { a: 1, b: 2, shared: 'right', nested: { y: 2 } },
      });
    });

    it('keeps a "__proto__" key as a key', async () => {
      const output = JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject;
      const result = (await merge(input({ parents: [{ jobId: 'p', outputHash: 'h', output }] }))) as { merged: JsonObject };
      expect(Object.getPrototypeOf(result.merged)).to.equal(Object.prototype);
      expect(Object.keys(result.merged)).to.deep.equal(['__proto__']);
      expect(JSON.stringify(result.merged)).to.equal('{"__proto__":{"polluted":true}}');
    });

    it('fails naming, by its place and not its id, a parent whose output was not kept or is not an object', async () => {
      const kept = { jobId: 'ok', outputHash: 'h0', output: { a: 1 } };
      const tooLarge = await thrownBy(() => merge(input({ parents: [kept, { jobId: 'big-one', outputHash: 'abc123' }] })));
      expect(tooLarge.message).to.equal(
        'merge: the output of parent_job_ids[1] is not kept, only its hash (it was over the output size limit, or the job was recorded with its hash alone), so it cannot be merged',
      );
      const array = await thrownBy(() => merge(input({ parents: [kept, { jobId: 'listy', outputHash: 'h', output: [1, 2] }] })));
      expect(array.message).to.equal('merge: the output of parent_job_ids[1] is an array, not an object');
      const text = await thrownBy(() => merge(input({ parents: [{ jobId: 'texty', outputHash: 'h', output: 'hello' }] })));
      expect(text.message).to.equal('merge: the output of parent_job_ids[0] is a string, not an object');
      const nothing = await thrownBy(() => merge(input({ parents: [{ jobId: 'nully', outputHash: 'h', output: null }] })));
      expect(nothing.message).to.equal('merge: the output of parent_job_ids[0] is null, not an object');
    });

    it('fails without parents', async () => {
      expect((await thrownBy(() => merge(input()))).message).to.equal('merge: the job has no parents to merge; give it parent_job_ids');
    });
  });

  describe('fail', () => {
    it('throws payload.message, or "failed on purpose"', async () => {
      expect((await thrownBy(() => fail(input()))).message).to.equal('failed on purpose');
      expect((await thrownBy(() => fail(input({ payload: { message: 'disk full' } })))).message).to.equal('disk full');
      expect((await thrownBy(() => fail(input({ payload: { message: 7 } })))).message).to.equal(
        'fail: payload.message must be a string, got the number 7',
      );
    });
  });
});

describe('loadHandlerModules', () => {
  it('loads the example module by a path relative to the working directory, with both export shapes', async () => {
    const registry = createDefaultRegistry();
    await loadHandlerModules([fromCwd(EXAMPLE)], registry);
    expect(registry.types()).to.deep.equal(['echo', 'fail', 'merge', 'sha256', 'sleep', 'text.tokenize', 'text.word-count']);

    const wordCount = registry.find('text.word-count', 'any-provider')!;
    expect(await wordCount(input({ payload: { text: '  the quick  brown\nfox ' } }))).to.deep.equal({ words: 4, texts: 1 });
    const parents = [
      { jobId: 'a', outputHash: 'h1', output: { text: 'one two' } },
      { jobId: 'b', outputHash: 'h2', output: { text: 'three' } },
    ];
    expect(await wordCount(input({ parents }))).to.deep.equal({ words: 3, texts: 2 });

    const text = 'Hello, world! 今日は良い天気です';
    const segmenter = registry.find('text.tokenize', 'intl-segmenter')!;
    const whitespace = registry.find('text.tokenize', 'some-other-provider')!;
    expect(segmenter).not.to.equal(whitespace);
    expect(await segmenter(input({ payload: { text, locale: 'ja' } }))).to.deep.equal({
      tokens: ['Hello', 'world', '今日', 'は', '良い', '天気', 'です'],
    });
    expect(await whitespace(input({ payload: { text } }))).to.deep.equal({ tokens: ['Hello,', 'world!', '今日は良い天気です'] });
  });

  it('runs the example handlers with the etiquette of docs/handlers.md', async () => {
    const registry = new HandlerRegistry();
    await loadHandlerModules([EXAMPLE], registry);
    const wordCount = registry.find('text.word-count', '')!;
    const missingText = await thrownBy(() =>
      wordCount(input({ parents: [{ jobId: 'numbers', outputHash: 'h', output: { count: 3 } }] })),
    );
    expect(missingText.message).to.equal('text.word-count: the output of parent_job_ids[0] has no "text" string field');
    const notKept = await thrownBy(() => wordCount(input({ parents: [{ jobId: 'huge', outputHash: 'h' }] })));
    expect(notKept.message).to.equal('text.word-count: the output of parent_job_ids[0] was not kept (it was over the output size limit)');
    const controller = new AbortController();
    controller.abort(new Error('job timed out'));
    const aborted = await thrownBy(() => wordCount(input({ payload: { text: 'a b' }, signal: controller.signal })));
    expect(aborted.message).to.equal('job timed out');
  });

  it('names the module that registered a type first', async () => {
    const registry = createDefaultRegistry();
    const example = fromCwd(EXAMPLE);
    const clash = fromCwd(fixture('clashes-with-word-count.mjs'));
    const error = await thrownBy(() => loadHandlerModules([example, clash], registry));
    expect(error.message).to.equal(
      `handler module "${clash}": a handler for type "text.word-count" is already registered by handler module "${example}"`,
    );
  });

  it('registers nothing of a module that clashes with a built-in type', async () => {
    const registry = createDefaultRegistry();
    const clash = fixture('clashes-with-echo.mjs');
    const error = await thrownBy(() => loadHandlerModules([clash], registry));
    expect(error.message).to.equal(`handler module "${clash}": a handler for type "echo" is already registered by the built-in handlers`);
    expect(registry.find('demo.first', '')).to.equal(undefined);
    expect(registry.types()).to.deep.equal(['echo', 'fail', 'merge', 'sha256', 'sleep']);
  });

  const broken: Array<[string, string]> = [
    ['no-handlers-export.mjs', ' has no "handlers" export; it must have export const handlers = {'],
    ['handlers-is-an-array.mjs', ': its "handlers" export is an array; it must be an object: export const handlers = {'],
    ['empty-handlers.mjs', ': its "handlers" export is empty; it must have export const handlers = {'],
    [
      'handler-not-a-function.mjs',
      ': handlers["demo.alias"] is a string; it must be a handler function, or an object mapping provider ids ("*" for any other provider) to handler functions',
    ],
    ['provider-handler-not-a-function.mjs', ': handlers["demo.train"]["gpu-pool"] is a number, not a handler function'],
    ['empty-provider-map.mjs', ': handlers["demo.nothing"] is an empty object; it must be a handler function, or an object mapping'],
    ['bad-type-name.mjs', `: job type "word count" is invalid: it must be 1 to 128 characters: a letter, then letters, digits, '.', '_', ':', '/' or '-'`],
    ['throws-on-import.mjs', ' could not be loaded: WORD_LIST_PATH is not set'],
  ];
  for (const [name, problem] of broken) {
    it(`refuses ${name}, naming the module and the problem, and registers none of it`, async () => {
      const registry = new HandlerRegistry();
      const specifier = fromCwd(fixture(name));
      const error = await thrownBy(() => loadHandlerModules([specifier], registry));
      expect(error.message.startsWith(`handler module "${specifier}"${problem}`), error.message).to.equal(true);
      expect(registry.types()).to.deep.equal([]);
    });
  }

  it('reports a path that does not exist', async () => {
    const error = await thrownBy(() => loadHandlerModules(['./no/such/handlers.mjs'], new HandlerRegistry()));
    expect(error.message).to.match(/^handler module "\.\/no\/such\/handlers\.mjs" could not be loaded: Cannot find module '.*\/no\/such\/handlers\.mjs'/);
    expect((error.cause as { code?: string }).code).to.equal('ERR_MODULE_NOT_FOUND');
  });

  it('takes other specifiers as package names, and hints at ./ for a file', async () => {
    const missingPackage = await thrownBy(() => loadHandlerModules(['provenance-no-such-handler-package'], new HandlerRegistry()));
    expect(missingPackage.message).to.match(/^handler module "provenance-no-such-handler-package" could not be loaded: Cannot find package 'provenance-no-such-handler-package'/);
    expect(missingPackage.message).not.to.include('write "./');

    const bareFile = relative(process.cwd(), EXAMPLE);
    const unprefixed = await thrownBy(() => loadHandlerModules([bareFile], new HandlerRegistry()));
    expect(unprefixed.message).to.include(`(for a file relative to the working directory, write "./${bareFile}")`);

    const builtin = await thrownBy(() => loadHandlerModules(['node:path'], new HandlerRegistry()));
    expect(builtin.message).to.match(/^handler module "node:path" has no "handlers" export/);
  });

  it('refuses an empty specifier', async () => {
    expect((await thrownBy(() => loadHandlerModules([' '], new HandlerRegistry()))).message).to.equal('a handler module specifier is empty');
  });

  it('loads nothing from an empty list', async () => {
    const registry = createDefaultRegistry();
    await loadHandlerModules([], registry);
    expect(registry.types()).to.deep.equal(['echo', 'fail', 'merge', 'sha256', 'sleep']);
  });
});
