import { JobStatus, type Job } from '@provenance/client';
import { waitForJob } from '../../support/execution.js';
import type { Client } from '../../support/grpc-client.js';
import { mulberry32 } from '../../support/job-records.js';

/**
 * The world of the isolation suite, built through the API: two tenants,
 * their principals, and jobs of every kind a caller may come across
 * (shared and not, with parents across tenants, dangling and later taken,
 * cached from a hidden result, failed on a hidden dependency, rerun from a
 * shared job, the setup of a cycle through a hidden job). Every value a job
 * holds that could leak (id, type, payload, labels, metadata, hashes, error
 * text) is a unique token of a fixed form, so that an answer is scanned for
 * all of them at once (TOKEN_PATTERN, HASH_PATTERN). The access rule is
 * written here again, independently of the service (docs/access-model.md).
 */

export interface Principal {
  /** Also the subject. */
  name: string;
  tenant: string;
  roles: string[];
  /** How it authenticates: a bearer token, or an API key. */
  credential: 'jwt' | 'api-key';
}

export const PRINCIPALS: readonly Principal[] = [
  { name: 'olga', tenant: 'acme', roles: ['submitter'], credential: 'jwt' },
  { name: 'carl', tenant: 'acme', roles: ['submitter'], credential: 'jwt' },
  { name: 'ada', tenant: 'acme', roles: ['admin'], credential: 'jwt' },
  { name: 'rita', tenant: 'acme', roles: ['reader'], credential: 'jwt' },
  // A namesake in each tenant: a grant to one must not reach the other.
  { name: 'ci-bot', tenant: 'acme', roles: ['reader'], credential: 'api-key' },
  { name: 'bob', tenant: 'globex', roles: ['submitter'], credential: 'jwt' },
  { name: 'gina', tenant: 'globex', roles: ['admin'], credential: 'jwt' },
  { name: 'ci-bot', tenant: 'globex', roles: ['reader'], credential: 'api-key' },
];
export const TENANTS = ['acme', 'globex'] as const;

export const principalKey = (principal: Pick<Principal, 'name' | 'tenant'>) => `${principal.tenant}/${principal.name}`;
export const canWrite = (principal: Principal) => principal.roles.includes('submitter') || principal.roles.includes('admin');

/** What the suite knows of a job: who may read it, and the tokens it holds. */
export interface JobFacts {
  jobId: string;
  tenant: string;
  readers: string[];
  /** Every value of the job that no caller who may not read it may see. */
  tokens: Set<string>;
  type: string;
  parentIds: string[];
  status: JobStatus;
}

/** The built-in handlers the suite submits with. */
const HANDLER_TYPES = new Set(['echo', 'sleep', 'fail']);

/** The model of the access rule: the tenant's principals, and those a grant names. */
export function mayRead(principal: Pick<Principal, 'name' | 'tenant'>, job: Pick<JobFacts, 'tenant' | 'readers'>): boolean {
  return job.tenant === principal.tenant || job.readers.includes(principalKey(principal));
}

/**
 * Tokens are a word, then "zq" and twelve base-36 characters, unique to the
 * token (hex digits hold no z nor q); hashes are 64 hex digits; the ids the
 * service makes (a rerun's) are UUIDs. An answer is scanned for all three
 * forms in one pass, and each key found looked up.
 */
const KEY_PATTERN = /zq[0-9a-z]{12}|[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** What a token is found by in an answer. */
export function scanKey(token: string): string {
  return /zq[0-9a-z]{12}/.exec(token)?.[0] ?? token;
}

export function keysIn(text: string): string[] {
  return [...text.matchAll(KEY_PATTERN)].map((match) => match[0]);
}

export interface WorldSize {
  /** Recorded jobs per tenant. */
  recordedPerTenant: number;
}

export type Clients = ReadonlyMap<string, Client>;

export class World {
  readonly jobs = new Map<string, JobFacts>();
  /** Ids named as parents that no job had when they were named, and the tenant whose writer named them. */
  readonly dangling: Array<{ jobId: string; namedBy: string }> = [];
  /** The tenant's job whose job.provenance.completed ends every event probe of its principals. */
  readonly markers = new Map<string, string>();
  /** The ids each tenant's callers have named in requests so far: its audit trail may show them (docs/access-model.md, Audit trail). */
  readonly namedBy = new Map<string, Set<string>>(TENANTS.map((tenant) => [tenant, new Set<string>()]));
  readonly random: () => number;
  /** The setup of a cycle through a hidden job: closing names closingId with the parent closingParent. */
  cycle: { closingId: string; closingParent: string } | undefined;

  constructor(
    readonly seed: number,
    private readonly clients: Clients,
  ) {
    this.random = mulberry32(seed);
  }

  /** A fresh token of the suite's form. */
  token(word: string): string {
    let text = '';
    for (let i = 0; i < 12; i++) text += Math.floor(this.random() * 36).toString(36);
    return `${word}-zq${text}`;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  client(principal: Pick<Principal, 'name' | 'tenant'>): Client {
    return this.clients.get(principalKey(principal))!;
  }

  principal(name: string, tenant: string): Principal {
    return PRINCIPALS.find((p) => p.name === name && p.tenant === tenant)!;
  }

  /** Notes the ids a request of this principal names, for the audit trail's scan. */
  named(principal: Pick<Principal, 'tenant'>, ids: Iterable<string>): void {
    for (const id of ids) this.namedBy.get(principal.tenant)!.add(id);
  }

  /** What the job showed its owner: its hashes and error join its tokens. */
  learn(job: Job, facts: Omit<JobFacts, 'tokens' | 'status'> & { tokens: string[] }): JobFacts {
    const tokens = new Set(facts.tokens);
    for (const value of [job.definitionHash, job.inputHash, job.result?.outputHash]) if (value) tokens.add(value);
    const known = this.jobs.get(job.jobId);
    const merged: JobFacts = { ...facts, status: job.status, tokens: known ? new Set([...known.tokens, ...tokens]) : tokens };
    this.jobs.set(job.jobId, merged);
    return merged;
  }

  /** Every token of the jobs the principal may not read, but those some job it may read holds too (a cached result holds its source's). */
  secretsOf(principal: Pick<Principal, 'name' | 'tenant'>): Map<string, string> {
    const shown = new Set<string>();
    for (const job of this.jobs.values()) if (mayRead(principal, job)) for (const token of job.tokens) shown.add(token);
    const secrets = new Map<string, string>();
    for (const job of this.jobs.values()) {
      if (mayRead(principal, job)) continue;
      for (const token of job.tokens) if (!shown.has(token)) secrets.set(scanKey(token), `${token} of ${job.jobId}`);
    }
    return secrets;
  }

  /** Every token of every job but its type: what an endpoint open to anyone must not show (job types are public on /metrics: docs/access-model.md). */
  allTokensButTypes(): Map<string, string> {
    const all = new Map<string, string>();
    for (const job of this.jobs.values()) for (const token of job.tokens) if (token !== job.type) all.set(scanKey(token), `${token} of ${job.jobId}`);
    return all;
  }

  jobsReadableBy(principal: Pick<Principal, 'name' | 'tenant'>): JobFacts[] {
    return [...this.jobs.values()].filter((job) => mayRead(principal, job));
  }

  /** Whether a rerun of the job would run (a handler, parents all SUCCEEDED): probes, which must not change the world, do not rerun it. */
  wouldRun(job: JobFacts): boolean {
    return HANDLER_TYPES.has(job.type) && job.parentIds.every((id) => this.jobs.get(id)?.status === JobStatus.JOB_STATUS_SUCCEEDED);
  }

  jobsHiddenFrom(principal: Pick<Principal, 'name' | 'tenant'>): JobFacts[] {
    return [...this.jobs.values()].filter((job) => !mayRead(principal, job));
  }

  /** An id no job has, of the same length and form as one that some job has: a fresh token, or a fresh UUID's last twelve digits. */
  missingLike(jobId: string): string {
    const hex = () => Math.floor(this.random() * 16).toString(16);
    const missing = /-zq[0-9a-z]{12}$/.test(jobId) ? jobId.replace(/-zq[0-9a-z]{12}$/, () => this.token('')) : jobId.slice(0, -12) + Array.from({ length: 12 }, hex).join('');
    return this.jobs.has(missing) ? this.missingLike(jobId) : missing;
  }

  async build(size: WorldSize): Promise<void> {
    for (let i = 0; i < size.recordedPerTenant * TENANTS.length; i++) await this.recordOne(TENANTS[i % TENANTS.length]!);
    await this.submittedScenarios();
    await this.takeDanglingIds();
    await this.cycleSetup();
  }

  /** The end of the event stream for each tenant's principals: recorded last. */
  async recordMarkers(): Promise<void> {
    for (const tenant of TENANTS) {
      const writer = this.writersOf(tenant)[0]!;
      const jobId = `${tenant}-${this.token('marker').replace(/^marker-/, '')}`;
      // Known before it is recorded: a live subscriber may get its events before the call returns.
      this.markers.set(tenant, jobId);
      const job = await this.record(writer, { jobId, type: 'marker', labels: { suite: this.suiteLabel() }, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'marker' });
      this.learn(job, { jobId, tenant, readers: [], tokens: [jobId], type: 'marker', parentIds: [] });
    }
  }

  /** Every job of the world carries this label, so that a labels filter reaches the markers too. */
  suiteLabel(): string {
    return `suite-${this.seed}`;
  }

  writersOf(tenant: string): Principal[] {
    return PRINCIPALS.filter((p) => p.tenant === tenant && canWrite(p));
  }

  /** A recorded job of a writer of the tenant: parents among what it may read (some of another tenant's, some dangling), grants, a status. */
  private async recordOne(tenant: string): Promise<void> {
    const writer = this.pick(this.writersOf(tenant));
    const readable = this.jobsReadableBy(writer).filter((job) => job.type !== 'marker');
    const parents = new Set<string>();
    for (let n = Math.floor(this.random() * 3); n > 0 && readable.length > 0; n--) parents.add(this.pick(readable.slice(-20)).jobId);
    const foreign = readable.filter((job) => job.tenant !== tenant);
    if (foreign.length > 0 && this.random() < 0.5) parents.add(this.pick(foreign).jobId);
    let allowMissing = false;
    if (this.random() < 0.15) {
      const dangling = `${this.otherTenant(tenant)}-${this.token('').slice(1)}`;
      this.dangling.push({ jobId: dangling, namedBy: tenant });
      parents.add(dangling);
      allowMissing = true;
    }
    const readers = this.random() < 0.4 ? this.grants(tenant) : [];
    const [jobId, type, input, team, note] = [`${tenant}-${this.token('').slice(1)}`, this.token('t'), this.token('p'), this.token('l'), this.token('m')];
    const roll = this.random();
    const parentIds = [...parents];
    const outcome: { status: JobStatus; outputHash?: string; error?: { reason: string; message: string; dependencyJobId: string } } =
      roll < 0.75
        ? { status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: `sha256:${this.token('o')}` }
        : roll < 0.9
          ? {
              status: JobStatus.JOB_STATUS_FAILED,
              // A recorded error's text is the client's: here it names the parent it blames, as a client's might.
              error: { reason: 'UPSTREAM_ERROR', message: `${this.token('e')} while reading ${parentIds[0] ?? 'its input'}`, dependencyJobId: parentIds[0] ?? '' },
            }
          : { status: JobStatus.JOB_STATUS_RUNNING };
    const job = await this.record(writer, {
      jobId,
      type,
      payload: { input, size: Math.floor(this.random() * 1000) },
      labels: { suite: this.suiteLabel(), team },
      metadata: { note },
      parentJobIds: parentIds,
      allowMissingParents: allowMissing,
      readerSubjects: readers,
      ...outcome,
    });
    const errorToken = outcome.error ? [outcome.error.message.split(' ')[0]!] : [];
    const outputToken = outcome.outputHash ? [outcome.outputHash.slice('sha256:'.length)] : [];
    this.learn(job, { jobId, tenant, readers, tokens: [jobId, type, input, team, note, ...errorToken, ...outputToken], type, parentIds });
  }

  /** Grants to one or two principals of either tenant (those of the job's own tenant grant nothing more). */
  private grants(tenant: string): string[] {
    const others = PRINCIPALS.filter((p) => p.tenant !== tenant);
    const grants = new Set([principalKey(this.pick(others))]);
    if (this.random() < 0.3) grants.add(principalKey(this.pick(PRINCIPALS)));
    return [...grants];
  }

  private otherTenant(tenant: string): string {
    return TENANTS.find((t) => t !== tenant)!;
  }

  private record(writer: Principal, request: Parameters<Client['recordJob']>[0]): Promise<Job> {
    this.named(writer, [...(request.jobId ? [request.jobId] : []), ...(request.parentJobIds ?? [])]);
    return this.client(writer).recordJob(request);
  }

  private async submit(writer: Principal, request: Parameters<Client['submitJob']>[0], tokens: string[]): Promise<Job> {
    this.named(writer, [...(request.jobId ? [request.jobId] : []), ...(request.parentJobIds ?? [])]);
    const job = await this.client(writer).submitJob(request);
    this.learn(job, { jobId: job.jobId, tenant: writer.tenant, readers: request.readerSubjects ?? [], tokens: [job.jobId, ...tokens], type: request.type!, parentIds: request.parentJobIds ?? [] });
    return job;
  }

  /** Reads the job as its owner until it is settled, and learns its final hashes. */
  private async settled(owner: Principal, jobId: string, done?: (job: Job) => boolean): Promise<Job> {
    const job = await waitForJob(this.client(owner), jobId, done);
    const facts = this.jobs.get(jobId)!;
    return (this.learn(job, { ...facts, tokens: [...facts.tokens] }), job);
  }

  private async submittedScenarios(): Promise<void> {
    const [olga, bob, gina] = [this.principal('olga', 'acme'), this.principal('bob', 'globex'), this.principal('gina', 'globex')];
    const id = (tenant: string) => `${tenant}-${this.token('').slice(1)}`;
    const text = (word: string) => this.token(word);
    const labels = { suite: this.suiteLabel() };

    // A result of globex's, and the same job again, shared with olga: served from the first, which she may not read.
    const cachedText = text('p');
    const source = await this.submit(bob, { jobId: id('globex'), type: 'echo', payload: { text: cachedText }, labels }, [cachedText]);
    await this.settled(bob, source.jobId);
    const cached = await this.submit(bob, { jobId: id('globex'), type: 'echo', payload: { text: cachedText }, labels, readerSubjects: ['acme/olga'] }, [cachedText]);
    await this.settled(bob, cached.jobId);

    // A long job of globex's (hidden), a job shared with olga that waits on it, and olga's that waits on that one; then the long one is cancelled.
    const napText = text('p');
    const nap = await this.submit(bob, { jobId: id('globex'), type: 'sleep', payload: { ms: 60_000, note: napText }, labels }, [napText]);
    const waitingText = text('p');
    const sharedWaiting = await this.submit(bob, { jobId: id('globex'), type: 'echo', payload: { text: waitingText }, parentJobIds: [nap.jobId], labels, readerSubjects: ['acme/olga'] }, [waitingText]);
    const ownText = text('p');
    const olgasWaiting = await this.submit(olga, { jobId: id('acme'), type: 'echo', payload: { text: ownText }, parentJobIds: [sharedWaiting.jobId], labels }, [ownText]);
    // A long job shared with olga, and hers waiting on it: its failure names a job olga may read and carl may not.
    const sharedNapText = text('p');
    const sharedNap = await this.submit(bob, { jobId: id('globex'), type: 'sleep', payload: { ms: 60_000, note: sharedNapText }, labels, readerSubjects: ['acme/olga'] }, [sharedNapText]);
    const onSharedText = text('p');
    const onShared = await this.submit(olga, { jobId: id('acme'), type: 'echo', payload: { text: onSharedText }, parentJobIds: [sharedNap.jobId], labels }, [onSharedText]);
    for (const job of [nap, sharedNap]) {
      // The reason becomes the cancelled job's error message.
      const reason = text('e');
      await this.client(bob).cancelJob({ jobId: job.jobId, reason });
      this.jobs.get(job.jobId)!.tokens.add(reason);
    }
    for (const job of [nap, sharedNap, sharedWaiting]) await this.settled(bob, job.jobId);
    for (const job of [olgasWaiting, onShared]) await this.settled(olga, job.jobId);

    // A job of globex's shared with olga, rerun by her: her rerun names it.
    const rerunText = text('p');
    const original = await this.submit(bob, { jobId: id('globex'), type: 'echo', payload: { text: rerunText }, labels, readerSubjects: ['acme/olga'] }, [rerunText]);
    await this.settled(bob, original.jobId);
    this.named(olga, [original.jobId]);
    const rerun = await this.client(olga).rerunJob({ jobId: original.jobId });
    this.learn(rerun, { jobId: rerun.jobId, tenant: 'acme', readers: [], tokens: [rerun.jobId, rerunText], type: 'echo', parentIds: [] });
    await this.settled(olga, rerun.jobId);

    // A failure of globex's own, with a message of its own.
    const message = text('e');
    const failing = await this.submit(gina, { jobId: id('globex'), type: 'fail', payload: { message }, labels }, [message]);
    await this.settled(gina, failing.jobId);
  }

  /** Half the dangling parents are taken later by the other tenant (issue #13, item 6: the record that named one now names a hidden job). */
  private async takeDanglingIds(): Promise<void> {
    for (const [index, { jobId }] of this.dangling.entries()) {
      if (index % 2 === 1) continue;
      const tenant = jobId.split('-')[0]!;
      const writer = this.pick(this.writersOf(tenant));
      const [type, output] = [this.token('t'), this.token('o')];
      const job = await this.record(writer, { jobId, type, labels: { suite: this.suiteLabel() }, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: `sha256:${output}` });
      this.learn(job, { jobId, tenant, readers: [], tokens: [jobId, type, output], type, parentIds: [] });
    }
  }

  /**
   * globex's job names an id nobody holds and is shared with olga, who
   * builds on it: an acme writer recording that id on olga's job closes a
   * cycle through globex's job, which only olga of acme may read.
   */
  private async cycleSetup(): Promise<void> {
    const [olga, bob] = [this.principal('olga', 'acme'), this.principal('bob', 'globex')];
    const closingId = `acme-${this.token('').slice(1)}`;
    const throughId = `globex-${this.token('').slice(1)}`;
    const [type, output] = [this.token('t'), this.token('o')];
    const through = await this.record(bob, {
      jobId: throughId,
      type,
      labels: { suite: this.suiteLabel() },
      status: JobStatus.JOB_STATUS_SUCCEEDED,
      outputHash: `sha256:${output}`,
      parentJobIds: [closingId],
      allowMissingParents: true,
      readerSubjects: ['acme/olga'],
    });
    this.learn(through, { jobId: throughId, tenant: 'globex', readers: ['acme/olga'], tokens: [throughId, type, output], type, parentIds: [closingId] });
    const builtId = `acme-${this.token('').slice(1)}`;
    const built = await this.record(olga, { jobId: builtId, type: 'built', labels: { suite: this.suiteLabel() }, status: JobStatus.JOB_STATUS_SUCCEEDED, outputHash: 'h', parentJobIds: [throughId] });
    this.learn(built, { jobId: builtId, tenant: 'acme', readers: [], tokens: [builtId], type: 'built', parentIds: [throughId] });
    this.cycle = { closingId, closingParent: builtId };
  }
}
