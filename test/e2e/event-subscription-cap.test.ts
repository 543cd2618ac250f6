import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { until } from '../support/waits.js';
import { makeApiKey, makeTemporaryDirectory, sha256Hex, type TemporaryDirectory } from '../support/credentials.js';
import { collectEvents, connect, statusDetails, subscribed, type Client } from '../support/grpc-client.js';
import { scrapeMetrics, total } from '../support/prometheus.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const CAP = 3;

/** Issue #12 item 7: PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL, through the wire, with API keys naming two principals. */
describe('WatchEvents subscriptions per principal', function () {
  this.timeout(60_000);
  let directory: TemporaryDirectory;
  let server: ServerProcess;
  const aliceKey = makeApiKey();
  const bobKey = makeApiKey();
  const operatorKey = makeApiKey();
  const clients: Client[] = [];
  const streams: AbortController[] = [];

  before(async () => {
    directory = await makeTemporaryDirectory();
    const keys = [
      { id: 'alice', sha256: sha256Hex(aliceKey), subject: 'alice', tenant: 'acme', roles: ['reader'] },
      { id: 'bob', sha256: sha256Hex(bobKey), subject: 'bob', tenant: 'acme', roles: ['reader'] },
      { id: 'prometheus', sha256: sha256Hex(operatorKey), subject: 'prometheus', tenant: 'ops', roles: ['operator'] },
    ];
    server = await startServer({
      PROVENANCE_SQLITE_PATH: `${directory.path}/provenance.db`,
      PROVENANCE_API_KEYS_FILE: await directory.write('api-keys.json', JSON.stringify(keys)),
      PROVENANCE_RATE_LIMIT: '0',
      PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: String(CAP),
    });
  });
  after(async () => {
    for (const stream of streams) stream.abort();
    for (const client of clients) client.close();
    await server?.stop();
    await directory?.remove();
  });

  const as = (key: string) => {
    const client = connect(server.address, { headers: { 'x-api-key': key } });
    clients.push(client);
    return client;
  };
  /** GET /events: the REST gateway's server-sent events, a WatchEvents call of the same principal underneath. */
  const openEventStream = (key: string) => {
    const controller = new AbortController();
    streams.push(controller);
    return fetch(`http://${server.httpAddress}/events`, { headers: { 'x-api-key': key }, signal: controller.signal });
  };
  const subscribers = async () => total(await scrapeMetrics(server.httpAddress, { 'x-api-key': operatorKey }), 'provenance_event_subscribers');

  it('refuses the subscription over the cap with RESOURCE_EXHAUSTED naming it, counts REST streams, leaves other principals alone, and takes a released slot back at once', async () => {
    const alice = as(aliceKey);
    const held = [await subscribed(alice.events({})), await subscribed(alice.events({}))];
    const sse = await openEventStream(aliceKey);
    expect(sse.status).to.equal(200);

    const { error } = await collectEvents(alice.events({}), 1);
    expect(error?.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(error?.details).to.contain(`PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL=${CAP}`);
    expect(statusDetails(error).errorInfo).to.deep.include({ reason: 'TOO_MANY_SUBSCRIPTIONS', metadata: { maxSubscriptions: String(CAP) } });
    const refusedStream = await openEventStream(aliceKey);
    expect(refusedStream.status).to.equal(429);
    // No time to wait for is known: a slot is free when one of the principal's subscriptions ends (rest.md).
    expect(refusedStream.headers.get('retry-after')).to.equal(null);
    expect(await refusedStream.json()).to.have.nested.property('error.status', 'RESOURCE_EXHAUSTED');

    // Another principal of the same tenant has slots of its own.
    const bob = await subscribed(as(bobKey).events({}));
    expect(await subscribers()).to.equal(CAP + 1);

    held[0]!.cancel();
    await until(async () => (await subscribers()) === CAP, "alice's cancelled subscription to be released", 20_000);
    const again = await subscribed(alice.events({}));
    for (const stream of [held[1]!, again, bob]) stream.cancel();
  });
});
