import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { JobStatus, ProvenanceClient } from '@provenance/client';
import { GO_OFFLINE_ENV, PYTHON, PYTHON_SOURCE_ENV, REPOSITORY_ROOT } from '../support/client-programs.js';
import { makeTemporaryDirectory, type TemporaryDirectory } from '../support/credentials.js';
import { deleteQueueKeys, uniqueQueuePrefix } from '../support/redis.js';
import { startRestartableServer, type RestartableServer } from '../support/restartable-server.js';

/**
 * The watch policy of all three clients: few attempts, with delays long
 * enough that the server is back before they run out: after the attempt
 * that the stopped server refused, the two left wait 2-4 s and 4-8 s. The
 * server's next process is started before the old one stops (see
 * RestartableServer), so the window covers the test's own steps, not a
 * process start, which took longer than the window on a busy machine. Each
 * client's channel tries to reconnect every reconnectBackoffMs, instead of
 * after grpc's own backoff (1 s growing 1.6 times a failure), so that the
 * window covers the server's return, not that backoff.
 */
const SETTINGS = { maxAttempts: 3, initialDelayMs: 2_000, maxDelayMs: 8_000, reconnectBackoffMs: 250 };
const RESTARTS = SETTINGS.maxAttempts + 1;
const RECORDED = ['job.provenance.created', 'compute.job.completed', 'job.provenance.completed'];
const UNAVAILABLE = 14;
/** How long any one step may take on a busy machine (the first includes compiling the Go test). */
const STEP_DEADLINE_MS = 120_000;

interface ReportedResumption {
  attempt: number;
  code: number;
}

interface ReportedEvent {
  jobId: string;
  type: string;
  cursor: string;
}

/** What one client's watch reported, in order, and how it ended. */
class WatchReports {
  readonly resumptions: ReportedResumption[] = [];
  readonly events: ReportedEvent[] = [];
  /** Why the watch ended before its last event; set once it has. */
  failure: Error | undefined;
  private done = false;
  private readonly changes = new EventEmitter();

  constructor(readonly language: string) {}

  add(report: { resume?: ReportedResumption; event?: ReportedEvent }): void {
    if (report.resume) this.resumptions.push(report.resume);
    if (report.event) this.events.push(report.event);
    this.changes.emit('change');
  }

  /** The watch is over: done after its last event, or failed. */
  end(failure?: Error): void {
    this.done = true;
    this.failure = failure && new Error(`${this.language}: ${failure.message}\n(${this.summary()})`, { cause: failure });
    this.changes.emit('change');
  }

  /** Resolves once the condition holds; rejects when the watch fails first, or after STEP_DEADLINE_MS. */
  until(condition: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) finish();
        else if (this.done) finish(this.failure ?? new Error(`${this.language}: the watch ended before ${what}`));
      };
      const timer = setTimeout(() => finish(new Error(`${this.language}: no ${what} within ${STEP_DEADLINE_MS} ms (${this.summary()})`)), STEP_DEADLINE_MS);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.changes.off('change', check);
        if (error) reject(error);
        else resolve();
      };
      this.changes.on('change', check);
      check();
    });
  }

  /** Resolves once the watch has ended by itself after its last event; rejects with its failure. */
  finished(): Promise<void> {
    return this.until(() => this.done && !this.failure, 'end after the last event');
  }

  summary(): string {
    return `resumption attempts ${JSON.stringify(this.resumptions.map((r) => r.attempt))}, events ${JSON.stringify(this.events.map((e) => e.type))}`;
  }
}

/** The TypeScript watch, in this process. */
function watchInProcess(address: string, jobId: string): { reports: WatchReports; close: () => void } {
  const reports = new WatchReports('typescript');
  const reconnect = { 'grpc.initial_reconnect_backoff_ms': SETTINGS.reconnectBackoffMs, 'grpc.max_reconnect_backoff_ms': SETTINGS.reconnectBackoffMs };
  const client = new ProvenanceClient({ address, channelOptions: reconnect });
  const { maxAttempts, initialDelayMs, maxDelayMs } = SETTINGS;
  const watch = client.watchEvents(
    { jobIds: [jobId] },
    { resume: { maxAttempts, initialDelayMs, maxDelayMs }, onResume: (r) => reports.add({ resume: { attempt: r.attempt, code: r.error.code } }) },
  );
  void (async () => {
    try {
      for await (const event of watch) {
        reports.add({ event: { jobId: event.jobId, type: event.type, cursor: event.cursor } });
        if (event.type === RECORDED.at(-1)) break;
      }
      reports.end();
    } catch (error) {
      reports.end(error as Error);
    }
  })();
  return { reports, close: () => client.close() };
}

/** A watch in a Python or Go test program, which reports one JSON object a line on stdout. */
function watchInChild(language: string, command: string, args: string[], cwd: string, env: Record<string, string>): { reports: WatchReports; close: () => void } {
  const reports = new WatchReports(language);
  // A process group of its own: go test runs the test binary as a child, which has to go too.
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    output += `${line}\n`;
    if (line.startsWith('{')) reports.add(JSON.parse(line) as { resume?: ReportedResumption; event?: ReportedEvent });
  });
  child.once('error', (error) => reports.end(error));
  // 'close' comes after the last line of stdout.
  child.once('close', (code, signal) => reports.end(code === 0 ? undefined : new Error(`${command} exited with ${code ?? signal}:\n${output}`)));
  return { reports, close: () => child.exitCode === null && child.signalCode === null && process.kill(-child.pid!) };
}

describe('event watches of the three clients across server restarts (issue #12)', function () {
  this.timeout(10 * 60_000);
  let directory: TemporaryDirectory;
  const redisPrefix = uniqueQueuePrefix();
  let server: RestartableServer | undefined;
  const watches: Array<{ reports: WatchReports; close: () => void }> = [];

  before(async () => {
    directory = await makeTemporaryDirectory('client-watch-restarts-');
  });
  after(async () => {
    for (const watch of watches) watch.close();
    await server?.close();
    await deleteQueueKeys(redisPrefix);
    await directory?.remove();
  });

  /** Polls the running server until the condition holds; fails at once when a watch has failed. */
  const pollUntil = async (condition: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + STEP_DEADLINE_MS;
    for (;;) {
      const failed = watches.find((w) => w.reports.failure);
      if (failed) throw failed.reports.failure;
      if (await condition()) return;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${STEP_DEADLINE_MS} ms: ${watches.map((w) => `${w.reports.language}: ${w.reports.summary()}`).join('; ')}`);
      await sleep(100);
    }
  };

  it(`keeps a quiet watch of each client through ${RESTARTS} restarts (max attempts ${SETTINGS.maxAttempts}), then delivers the events recorded after them, each once`, async () => {
    server = await startRestartableServer({ sqlitePath: join(directory.path, 'provenance.db'), redisPrefix });
    const jobId = `restarts-${randomBytes(4).toString('hex')}`;
    const childEnv = {
      PROVENANCE_ADDRESS: server.address,
      PROVENANCE_RESTARTS_JOB_ID: jobId,
      PROVENANCE_RESTARTS_SETTINGS: JSON.stringify(SETTINGS),
    };
    watches.push(
      watchInProcess(server.address, jobId),
      watchInChild('python', PYTHON, ['-m', 'unittest', '-v', 'tests.test_watch_restarts'], join(REPOSITORY_ROOT, 'clients/python'), {
        ...childEnv,
        ...PYTHON_SOURCE_ENV,
      }),
      watchInChild('go', 'go', ['test', '-count=1', '-v', '-run', '^TestWatchAcrossServerRestarts$', './provenance'], join(REPOSITORY_ROOT, 'clients/go'), {
        ...childEnv,
        ...GO_OFFLINE_ENV,
      }),
    );
    const reports = watches.map((w) => w.reports);
    const allSubscribed = async () => (await server!.subscriberCount()) === reports.length;
    await pollUntil(allSubscribed, 'subscription of every watch');

    for (let restart = 1; restart <= RESTARTS; restart++) {
      const before = reports.map((r) => r.resumptions.length);
      await server.stop();
      // Down until every watch has had an attempt refused: the resumption the stop caused, then the one after the refusal.
      await Promise.all(reports.map((r, i) => r.until(() => r.resumptions.length >= before[i]! + 2, `attempt refused after stop ${restart}`)));
      await server.start();
      await pollUntil(allSubscribed, `subscription of every watch after restart ${restart}`);
      for (const [i, r] of reports.entries()) {
        // The subscription the stop ended had been registered: the count of failures starts again.
        expect(r.resumptions[before[i]!]!.attempt, `${r.language}: the first resumption after stop ${restart}`).to.equal(1);
      }
    }

    const recorder = new ProvenanceClient({ address: server.address, timeoutMs: 20_000 });
    try {
      await recorder.recordJob({ jobId, type: 'echo', payload: { after: 'restarts' }, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'sha256:restarts' });
    } finally {
      recorder.close();
    }
    await Promise.all(reports.map((r) => r.until(() => r.events.length >= RECORDED.length, 'events of the job recorded after the restarts')));
    for (const r of reports) {
      expect(r.events.map((e) => [e.jobId, e.type]), r.language).to.deep.equal(RECORDED.map((type) => [jobId, type]));
      expect(new Set(r.events.map((e) => e.cursor)).size, `${r.language}: distinct cursors`).to.equal(RECORDED.length);
      expect(r.resumptions.every((resumption) => resumption.code === UNAVAILABLE), `${r.language}: ${JSON.stringify(r.resumptions)}`).to.equal(true);
    }
    // Each watch ends by itself after the job's last event; the Python and Go programs check what they got, too.
    await Promise.all(reports.map((r) => r.finished()));
  });
});
