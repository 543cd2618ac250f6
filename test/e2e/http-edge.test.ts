import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { connect, failure, type Client } from '../support/grpc-client.js';
import { rawExchange } from '../support/raw-http.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/** The HTTP listener and the REST gateway against hostile or broken requests, through the wire of a real server process. */
describe('the HTTP edge', function () {
  this.timeout(120_000);
  let directory: string;
  let server: ServerProcess;
  let api: Client;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'provenance-http-edge-'));
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_IN_PROCESS_WORKERS: 'false' });
    api = connect(server.address);
  });
  after(async () => {
    api?.close();
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  /** The process still serves both listeners. */
  async function stillServes(): Promise<void> {
    expect((await fetch(`http://${server.httpAddress}/healthz`)).status).to.equal(200);
    expect((await failure(api.getJob({ jobId: 'still-here' }))).code).to.equal(status.NOT_FOUND);
  }

  it('answers 400 to request targets that are not URLs, and goes on serving', async () => {
    for (const target of ['http://[', 'http://%zz/', 'http://a:b']) {
      const response = await rawExchange(server.httpAddress, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(response.status, target).to.equal(400);
      expect(JSON.parse(response.body), target).to.have.property('error');
    }
    await stillServes();
  });
});
