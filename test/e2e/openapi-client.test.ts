import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { expect } from 'chai';
import { makeApiKey, makeTemporaryDirectory, sha256Hex, type TemporaryDirectory } from '../support/credentials.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { rejection } from '../support/waits.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The commands of docs/rest.md that generate a client: its `shell` block. */
const GENERATION_STEPS = /```shell\n([\s\S]*?)```/
  .exec(readFileSync(join(ROOT, 'docs/rest.md'), 'utf8'))![1]!
  .trim()
  .split('\n');

interface Operation {
  operationId: string;
  produces?: string[];
  parameters?: Array<{ name: string; in: string; type?: string; collectionFormat?: string }>;
  responses: Record<string, { schema?: { $ref?: string } }>;
}
interface Document {
  info: { title: string; version: string };
  securityDefinitions: Record<string, { type: string; in: string; name: string }>;
  paths: Record<string, Record<string, Operation>>;
}

/** What the generated client's calls resolve with, or reject with for an answer that is not 2xx (the fetch Response, with the body parsed). */
interface Answer<T> {
  status: number;
  data: T;
  error: T;
  body: ReadableStream<Uint8Array> | null;
}

/** The part of the generated client (swagger-typescript-api, fetch) the test calls. */
interface GeneratedApi {
  jobsRecord: { recordJob(record: string, body: unknown): Promise<Answer<{ jobId: string }>> };
  jobs: {
    getJob(jobId: string): Promise<Answer<{ jobId: string; type: string; parentJobIds?: string[] }>>;
    listJobs(query: { filter?: string; page_size?: number }): Promise<Answer<{ jobs: Array<{ jobId: string }> }>>;
  };
  events: { watchEvents(query: { job_ids?: string[]; start_position?: string }, params?: { signal?: AbortSignal }): Promise<Answer<unknown>> };
}

interface ErrorBody {
  error: { code: number; message: string; status: string; details: Array<{ '@type': string; [field: string]: unknown }> };
}

/**
 * The OpenAPI document as a user takes it: validated by a Swagger 2.0
 * parser, a client generated from it by a real generator
 * (swagger-typescript-api, fetch, JavaScript), and that client calling a live
 * server with an API key: a GET of a job, a list, a repeated query parameter,
 * and errors decoded as the document's error body.
 */
describe('a client generated from the OpenAPI document', function () {
  this.timeout(180_000);
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  let generated: string;
  let document: Document;
  let api: GeneratedApi;
  let anonymous: GeneratedApi;
  const apiKey = makeApiKey();

  before(async () => {
    directory = await makeTemporaryDirectory();
    const keys = [{ id: 'generated-client', sha256: sha256Hex(apiKey), subject: 'generated-client', tenant: 'acme', roles: ['submitter'] }];
    server = await startServer({
      PROVENANCE_SQLITE_PATH: join(directory.path, 'provenance.db'),
      PROVENANCE_IN_PROCESS_WORKERS: 'false',
      PROVENANCE_API_KEYS_FILE: await directory.write('api-keys.json', JSON.stringify(keys)),
    });
    // The user's steps, as docs/rest.md writes them, in a project of the user's (whose node_modules has the generator: npx fetches nothing).
    generated = mkdtempSync(join(tmpdir(), 'provenance-openapi-client-'));
    writeFileSync(join(generated, 'package.json'), '{"type": "module"}');
    symlinkSync(join(ROOT, 'node_modules'), join(generated, 'node_modules'));
    for (const command of GENERATION_STEPS) {
      await promisify(execFile)('sh', ['-c', command.replaceAll('127.0.0.1:8080', server.httpAddress)], { cwd: generated, timeout: 150_000, env: { ...process.env, npm_config_offline: 'true' } });
    }
    document = JSON.parse(readFileSync(join(generated, 'openapi.json'), 'utf8')) as Document;
    const { Api } = (await import(pathToFileURL(join(generated, 'client/api.js')).href)) as { Api: new (config: object) => GeneratedApi };
    const baseUrl = `http://${server.httpAddress}`;
    api = new Api({ baseUrl, securityWorker: () => ({ headers: { 'X-Api-Key': apiKey } }) });
    anonymous = new Api({ baseUrl });
  });
  after(async () => {
    await server?.stop();
    await directory?.remove();
    if (generated) rmSync(generated, { recursive: true, force: true });
  });

  it('is a valid Swagger 2.0 document with a title, a version, its credentials and its error body', async () => {
    await SwaggerParser.validate(structuredClone(document) as never);
    expect(document.info).to.deep.equal({ ...document.info, title: 'Provenance service', version: 'v1' });
    expect(document.securityDefinitions).to.deep.include({
      ApiKey: { ...document.securityDefinitions.ApiKey, type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      BearerToken: { ...document.securityDefinitions.BearerToken, type: 'apiKey', in: 'header', name: 'Authorization' },
    });
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
    for (const operation of operations) {
      for (const answer of ['400', '401', '429', 'default']) expect(operation.responses[answer]?.schema?.$ref, `${operation.operationId} ${answer}`).to.equal('#/definitions/v1ErrorBody');
      for (const parameter of operation.parameters ?? []) {
        if (parameter.type === 'array') expect(parameter.collectionFormat, `${operation.operationId} ${parameter.name}`).to.equal('multi');
      }
    }
    expect(document.paths['/events']!.get!.produces).to.deep.equal(['text/event-stream']);
  });

  it('records and reads a job, and lists jobs', async () => {
    // The generator reads ":record" in /jobs:record as a path parameter (Express style): its value is the literal.
    const recorded = await api.jobsRecord.recordJob(':record', { jobId: 'generated-a', type: 'ingest', status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:aa' });
    expect(recorded.data.jobId).to.equal('generated-a');
    await api.jobsRecord.recordJob(':record', { jobId: 'generated-b', type: 'train', parentJobIds: ['generated-a'], status: 'JOB_STATUS_SUCCEEDED', outputHash: 'sha256:bb' });
    const job = await api.jobs.getJob('generated-b');
    expect(job.status).to.equal(200);
    expect(job.data).to.include({ jobId: 'generated-b', type: 'train' });
    expect(job.data.parentJobIds).to.deep.equal(['generated-a']);
    const listed = await api.jobs.listJobs({ filter: 'type = "train"', page_size: 10 });
    expect(listed.data.jobs.map((j) => j.jobId)).to.deep.equal(['generated-b']);
  });

  it('sends a repeated query parameter as the gateway takes it (GET /events?job_ids=a&job_ids=b)', async () => {
    const stream = new AbortController();
    const answer = await api.events.watchEvents({ job_ids: ['generated-a', 'generated-b'], start_position: 'START_POSITION_OLDEST' }, { signal: stream.signal });
    expect(answer.status).to.equal(200);
    const reader = answer.body!.pipeThrough(new TextDecoderStream()).getReader();
    const seen = new Set<string>();
    let text = '';
    while (seen.size < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      for (const match of text.matchAll(/^data: (.*)$/gm)) seen.add((JSON.parse(match[1]!) as { event: { jobId: string } }).event.jobId);
    }
    stream.abort();
    expect([...seen].sort()).to.deep.equal(['generated-a', 'generated-b']);
  });

  it('rejects an error with the error body the document describes', async () => {
    const missing = (await rejection(api.jobs.getJob('nowhere'))) as Answer<ErrorBody>;
    expect(missing.status).to.equal(404);
    expect(missing.error.error).to.include({ code: 404, status: 'NOT_FOUND' });
    expect(missing.error.error.details.map((d) => d['@type'])).to.include('type.googleapis.com/google.rpc.ErrorInfo');
    const refused = (await rejection(anonymous.jobs.getJob('generated-a'))) as Answer<ErrorBody>;
    expect(refused.status).to.equal(401);
    expect(refused.error.error).to.include({ code: 401, status: 'UNAUTHENTICATED' });
  });
});
