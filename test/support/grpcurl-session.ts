import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { MiniGrpcurl } from './mini-grpcurl.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** How long a job or a followed stream may take to get where the page shows it, on a busy machine. */
const SETTLE_DEADLINE_MS = 30_000;

/** The text of a page's fenced blocks of that language. */
export function fencedBlocks(markdown: string, language: string): string[] {
  return [...markdown.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** The grpcurl commands of a page's blocks of that language, split into words as a shell would. */
export function grpcurlCommands(markdown: string, language = 'sh'): string[][] {
  return shellCommands(markdown, language).filter((words) => words[0] === 'grpcurl');
}

/** Every command of a page's blocks of that language, split into words as a shell would (quotes removed, comments and line continuations dropped). */
export function shellCommands(markdown: string, language = 'sh'): string[][] {
  const commands: string[][] = [];
  for (const block of fencedBlocks(markdown, language)) {
    let words: string[] = [];
    let word: string | undefined;
    for (let i = 0; i < block.length; i++) {
      const c = block[i]!;
      if (c === "'") {
        const end = block.indexOf("'", i + 1);
        word = (word ?? '') + block.slice(i + 1, end);
        i = end;
      } else if (c === '\\' && block[i + 1] === '\n') {
        i++;
      } else if (c === '#' && word === undefined) {
        i = block.indexOf('\n', i) - 1;
      } else if (c === '"') {
        // Inside double quotes a backslash keeps the next ", \\, $ or ` literal.
        let quoted = '';
        for (i++; block[i] !== '"'; i++) quoted += block[i] === '\\' && '"\\$`'.includes(block[i + 1]!) ? block[++i] : block[i];
        word = (word ?? '') + quoted;
      } else if (c === ' ' || c === '\n') {
        if (word !== undefined) words.push(word);
        word = undefined;
        if (c === '\n') {
          if (words.length > 0) commands.push(words);
          words = [];
        }
      } else {
        word = (word ?? '') + c;
      }
    }
  }
  return commands;
}

export type JobView = {
  status: string;
  type: string;
  parentJobIds?: string[];
  cacheState?: string;
  error?: { reason: string; message?: string };
  result?: { cached?: boolean; outputHash?: string; output?: unknown };
};

/**
 * Runs grpcurl commands as a person would, in order, against one server: a
 * WatchEvents call runs "in a second terminal" (it keeps following while the
 * next commands run), and a person reads a submitted job's output before
 * typing the next command, so the next command waits for the job to settle.
 */
export class GrpcurlSession {
  readonly answers = new Map<string, unknown>();
  /** What grpcurl printed for each command that failed, by method and request. */
  readonly errors = new Map<string, string>();
  readonly streams: Array<{ messages: unknown[]; close(): void }> = [];

  constructor(private readonly grpcurl: MiniGrpcurl) {}

  job(jobId: string): Promise<JobView> {
    return this.grpcurl.call('provenance.v1.ProvenanceService/GetJob', { jobId }) as Promise<JobView>;
  }

  /** The answer of the first command of that method whose request starts with that job id. */
  answer(method: string, jobId: string): unknown {
    return [...this.answers].find(([key]) => key.startsWith(`provenance.v1.ProvenanceService/${method} {"jobId":"${jobId}"`))![1];
  }

  /** The events the stream of the nth WatchEvents command received so far, as "<job id> <type>". */
  followed(n = 0): string[] {
    return (this.streams[n]!.messages as Array<{ event: { type: string; jobId: string } }>).map((m) => `${m.event.jobId} ${m.event.type}`);
  }

  /** Polls, with a generous deadline, until the nth stream has received that many events. */
  async follow(count: number, n = 0): Promise<string[]> {
    for (const deadline = Date.now() + SETTLE_DEADLINE_MS; Date.now() < deadline && this.followed(n).length < count; ) await new Promise((resolve) => setTimeout(resolve, 50));
    return this.followed(n);
  }

  /** Polls, with a generous deadline, until the job has finished (SUCCEEDED, FAILED or CANCELLED). */
  async finished(jobId: string): Promise<JobView> {
    for (const deadline = Date.now() + SETTLE_DEADLINE_MS; Date.now() < deadline; ) {
      const current = await this.job(jobId);
      if (['JOB_STATUS_SUCCEEDED', 'JOB_STATUS_FAILED', 'JOB_STATUS_CANCELLED'].includes(current.status)) return current;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`job ${jobId} did not finish`);
  }

  /** Waits for a submitted job to finish, or to be running or waiting on a running job (a long sleep that is cancelled next). */
  async settled(jobId: string): Promise<void> {
    for (const deadline = Date.now() + SETTLE_DEADLINE_MS; Date.now() < deadline; ) {
      const current = await this.job(jobId);
      if (['JOB_STATUS_SUCCEEDED', 'JOB_STATUS_FAILED', 'JOB_STATUS_CANCELLED'].includes(current.status)) return;
      if (current.status === 'JOB_STATUS_RUNNING' && current.type === 'sleep') return;
      if (current.status === 'JOB_STATUS_WAITING') {
        const parents = await Promise.all((current.parentJobIds ?? []).map((parent) => this.job(parent)));
        if (parents.some((p) => p.status === 'JOB_STATUS_RUNNING' && p.type === 'sleep')) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`job ${jobId} did not settle`);
  }

  async run(commands: string[][]): Promise<void> {
    for (const words of commands) {
      expect(words.slice(0, 2), words.join(' ')).to.deep.equal(['grpcurl', '-plaintext']);
      // -protoset <file>: the descriptors from that file (a path from the repository's root), not reflection.
      const protoset = words[2] === '-protoset' ? join(ROOT, words[3]!) : undefined;
      const grpcurl = protoset ? this.grpcurl.withProtoset(protoset) : this.grpcurl;
      const rest = words.slice(protoset ? 4 : 2);
      const body = rest[0] === '-d' ? (JSON.parse(rest[1]!) as Record<string, unknown>) : undefined;
      const [address, verb, symbol] = rest.slice(body ? 2 : 0);
      expect(address).to.equal('127.0.0.1:50051');
      if (verb === 'list') expect(await grpcurl.list()).to.include('provenance.v1.ProvenanceService');
      else if (verb === 'describe') expect((await grpcurl.describe(symbol!)).files).to.not.be.empty;
      else if (verb!.endsWith('/WatchEvents')) this.streams.push(await grpcurl.stream(verb!, (body ?? {}) as never));
      else {
        const key = `${verb} ${JSON.stringify(body ?? {})}`;
        let answer: { jobId?: string };
        try {
          answer = (await grpcurl.call(verb!, (body ?? {}) as never)) as { jobId?: string };
        } catch (error) {
          // What grpcurl prints for it; the test compares it with what the page shows.
          this.errors.set(key, await grpcurl.printedError(error as ServiceError));
          continue;
        }
        this.answers.set(key, answer);
        if (/\/(SubmitJob|RerunJob)$/.test(verb!)) await this.settled(answer.jobId!);
      }
    }
  }

  close(): void {
    for (const stream of this.streams) stream.close();
  }
}
