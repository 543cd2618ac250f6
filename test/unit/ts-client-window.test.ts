import { once } from 'node:events';
import { createServer, type Http2Session, type Settings } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ProvenanceClient } from '@provenance/client';

/** The HTTP/2 settings the client announces to a bare HTTP/2 listener when its first call connects. */
async function announcedSettings(channelOptions?: Record<string, number>): Promise<Settings> {
  const server = createServer();
  const sessions: Http2Session[] = [];
  const settings = new Promise<Settings>((resolve) =>
    server.on('session', (session: Http2Session) => {
      sessions.push(session);
      session.once('remoteSettings', resolve);
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new ProvenanceClient({ address: `127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 60_000, ...(channelOptions ? { channelOptions } : {}) });
  // The listener never answers: the call only makes the client connect, and is abandoned when the client closes.
  client.getJob({ jobId: 'job-1' }).catch(() => undefined);
  try {
    return await settings;
  } finally {
    client.close();
    for (const session of sessions) session.destroy();
    server.close();
  }
}

describe('TypeScript client: HTTP/2 window', () => {
  it('announces a 1 MiB stream window, so that a watch is not held to 64 KiB per round trip', async () => {
    expect((await announcedSettings()).initialWindowSize).to.equal(1024 * 1024);
  });

  it('takes the window from channelOptions when they set it', async () => {
    expect((await announcedSettings({ 'grpc-node.flow_control_window': 128 * 1024 })).initialWindowSize).to.equal(128 * 1024);
  });
});
