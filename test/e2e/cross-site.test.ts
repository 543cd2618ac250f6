import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startServer, type ServerProcess } from '../support/server-process.js';

/**
 * With no authentication, every caller is the anonymous admin: a request a
 * browser makes for another site (its Origin another than the Host's), or
 * for a name an attacker made resolve to 127.0.0.1 (DNS rebinding: a Host
 * that is no loopback name), is refused before anything is done for it.
 */
describe('HTTP requests for another site, with no authentication', function () {
  this.timeout(60_000);
  const directory = mkdtempSync(join(tmpdir(), 'provenance-cross-site-'));
  let server: ServerProcess;
  let port: string;

  before(async () => {
    server = await startServer({ PROVENANCE_SQLITE_PATH: join(directory, 'provenance.db'), PROVENANCE_IN_PROCESS_WORKERS: 'false' });
    port = server.httpAddress.split(':').pop()!;
  });
  after(async () => {
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: text }));
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  const submission = (jobId: string) => JSON.stringify({ jobId, type: 'echo', payload: { text: 'from a page' } });

  it("refuses a cross-site POST, the kind a page of another site sends without a preflight, and does nothing of it", async () => {
    const answer = await send('POST', '/jobs', { 'Content-Type': 'text/plain;charset=UTF-8', Origin: 'https://evil.example' }, submission('planted'));
    expect(answer.status).to.equal(403);
    expect(JSON.parse(answer.body).error).to.deep.include({ status: 'PERMISSION_DENIED' });
    expect(answer.body).to.include('CROSS_ORIGIN_REQUEST');
    for (const origin of ['null', 'http://127.0.0.1:1']) expect((await send('POST', '/jobs', { Origin: origin }, submission('planted'))).status, origin).to.equal(403);
    expect((await send('GET', '/jobs/planted/provenance', {})).status).to.equal(404);
  });

  it('refuses a request for a name that is not a loopback one, as after a DNS rebinding, even from its own origin', async () => {
    const rebound = `rebind.attacker.example:${port}`;
    const answer = await send('GET', '/jobs', { Host: rebound, Origin: `http://${rebound}` });
    expect(answer.status).to.equal(403);
    expect(answer.body).to.include('HOST_NOT_LOOPBACK');
  });

  it('marks every answer not to be kept by caches nor sniffed as another type, the viewer keeping its own', async () => {
    for (const path of ['/jobs', '/healthz', '/openapi.json', '/jobs/nowhere/provenance']) {
      const answer = await head(path);
      expect(answer['cache-control'], path).to.equal('no-store');
      expect(answer['x-content-type-options'], path).to.equal('nosniff');
    }
    expect((await head('/ui/viewer.js'))['cache-control']).to.equal('no-cache');
  });

  function head(path: string): Promise<Record<string, string | string[] | undefined>> {
    return new Promise((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, method: 'GET', path }, (response) => {
        response.resume();
        resolve(response.headers);
      });
      request.on('error', reject);
      request.end();
    });
  }

  it('answers its own origin, loopback names, and clients that send no Origin', async () => {
    expect((await send('POST', '/jobs', { 'Content-Type': 'application/json', Origin: `http://127.0.0.1:${port}` }, submission('same-origin'))).status).to.equal(200);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) expect((await send('GET', '/jobs/same-origin/provenance', { Host: host })).status, host).to.equal(200);
    expect((await send('GET', '/healthz', {})).status).to.equal(200);
  });
});
