import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Metadata, Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js';
import { JobStatus, ProvenanceClient, WatchEventsResponse, type EventWatch, type ProvenanceEvent } from '@provenance/client';
import type { BenchContext, Scenario } from '../support/context.js';
import { percentile } from '../support/stats.js';

const SCENARIO = 'events';
const RECORD_BATCH = 1000;
/** "One or a few" subscribers for the latency figure: enough to see fan-out, few enough not to measure throughput. */
const LATENCY_SUBSCRIBERS = 4;
/** Each pass of the deliveries figure runs ours then the baseline; the best pass of each counts, since other work on the machine only slows a pass down. */
const DELIVERY_PASSES = 1;
const WATCH_EVENTS_PATH = '/provenance.v1.ProvenanceService/WatchEvents';
const BROADCAST_ROLE = 'events-broadcast-server';
const LATENCY_SUBSCRIBERS_ROLE = 'events-latency-subscribers';

/**
 * Scenario 4 of issue #7. Deliveries/s of WatchEvents to many subscribers,
 * against a bare grpc-js broadcast of the same encoded messages to the same
 * clients; and the latency from a committed write to its delivery at a
 * steady write rate.
 */
export const events: Scenario = {
  name: SCENARIO,
  async run(context) {
    // The harness waits for the "serving" line, which is logged at info. Every subscriber is the one anonymous principal,
    // 100 of them at full size, and a pass may begin before the server has seen the last pass's subscribers go.
    const server = await context.startServer({ PROVENANCE_LOG_LEVEL: 'info', PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '1000' });
    try {
      await deliveries(context, server.address, server.child.pid!);
      await latency(context, server.address);
    } finally {
      await context.stop(server);
    }
  },
};

interface DeliveryPass {
  /** From the first event any subscriber received to the last event the last subscriber received. */
  seconds: number;
  /** CPU seconds used meanwhile by the process of the subscribers and by the server. */
  subscriberCpu: number;
  serverCpu: number;
  resumptions: number;
  /** What the first subscriber received, in order. */
  received: ProvenanceEvent[];
}

/**
 * Both servers are measured with the same clients: one ProvenanceClient per
 * subscriber, each on a connection of its own (as separate services would
 * subscribe), consumed through the client's watchEvents iterator, as a real
 * subscriber would; the servers differ, the clients do not.
 */
async function deliveries(context: BenchContext, address: string, serverPid: number): Promise<void> {
  const { subscribers, events: count } = context.sizes;
  const ours: DeliveryPass[] = [];
  const baseline: DeliveryPass[] = [];
  let messages: Uint8Array[] | undefined;
  for (let pass = 0; pass < DELIVERY_PASSES; pass++) {
    const runId = `events-${pass}-${Date.now().toString(36)}`;
    const writer = new ProvenanceClient({ address, timeoutMs: 120_000 });
    try {
      ours.push(await deliverToSubscribers(address, serverPid, subscribers, count, () => recordQueuedJobs(writer, runId, count)));
    } finally {
      writer.close();
    }
    // The same messages our server sent, encoded once, as a broadcast would hold them.
    messages ??= ours[0]!.received.map((event) => WatchEventsResponse.encode({ event }).finish());
    const broadcast = await startBroadcastServer(messages);
    try {
      baseline.push(await deliverToSubscribers(broadcast.address, broadcast.child.pid!, subscribers, count, async () => broadcast.start()));
    } finally {
      broadcast.child.kill();
    }
  }
  const best = (passes: DeliveryPass[]) => passes.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const [oursBest, baselineBest] = [best(ours), best(baseline)];
  const rate = (p: DeliveryPass) => (subscribers * count) / p.seconds;
  const cpuShare = (cpu: number, p: DeliveryPass) => `${Math.round((100 * cpu) / p.seconds)}%`;
  context.report({
    scenario: SCENARIO,
    name: `WatchEvents deliveries, ${subscribers} subscribers × ${count} events`,
    unit: 'deliveries/s',
    ours: rate(oursBest),
    baseline: rate(baselineBest),
    better: 'higher',
    budget: 0.5,
    notes: {
      passes: `best of ${DELIVERY_PASSES}: ours ${ours.map((p) => Math.round(rate(p))).join(' / ')}, baseline ${baseline.map((p) => Math.round(rate(p))).join(' / ')}`,
      'message bytes': messages!.reduce((sum, m) => sum + m.length, 0) / messages!.length,
      'CPU of server, ours': cpuShare(oursBest.serverCpu, oursBest),
      'of subscribers': cpuShare(oursBest.subscriberCpu, oursBest),
      'CPU of server, baseline': cpuShare(baselineBest.serverCpu, baselineBest),
      'of its subscribers': cpuShare(baselineBest.subscriberCpu, baselineBest),
      resumptions: oursBest.resumptions,
    },
  });
}

/** Subscribes them all, has produce() start the events, and times them until every subscriber has all of them. */
async function deliverToSubscribers(address: string, serverPid: number, subscribers: number, count: number, produce: () => Promise<void>): Promise<DeliveryPass> {
  const clients = Array.from({ length: subscribers }, () => subscriberClient(address));
  let resumptions = 0;
  const watches = clients.map((client) => client.watchEvents({}, { onResume: () => resumptions++ }));
  try {
    await Promise.all(watches.map((watch) => watch.subscribed()));
    const received: ProvenanceEvent[] = [];
    let firstDelivery: number | undefined;
    const consume = async (watch: EventWatch, keep: boolean): Promise<number> => {
      let taken = 0;
      for await (const event of watch) {
        firstDelivery ??= performance.now();
        if (keep) received.push(event);
        if (++taken === count) return performance.now();
      }
      throw new Error(`a subscriber's stream ended after ${taken} of ${count} events`);
    };
    const subscriberCpuStart = process.cpuUsage();
    const serverCpuStart = cpuSeconds(serverPid);
    const [, lastDeliveries] = await Promise.all([produce(), Promise.all(watches.map((watch, i) => consume(watch, i === 0)))]);
    const seconds = (Math.max(...lastDeliveries) - firstDelivery!) / 1000;
    const subscriberCpu = process.cpuUsage(subscriberCpuStart);
    return {
      seconds,
      subscriberCpu: (subscriberCpu.user + subscriberCpu.system) / 1e6,
      serverCpu: cpuSeconds(serverPid) - serverCpuStart,
      resumptions,
      received,
    };
  } finally {
    for (const watch of watches) watch.close();
    for (const client of clients) client.close();
  }
}

/**
 * Latency from the commit of a write to the delivery of its event, with
 * writes paced at the rate of issue #7. The subscribers run in a process of
 * their own, as other services would: in the bench's process, the writer's
 * work delayed the reading of deliveries by hundreds of milliseconds, which
 * measured the bench rather than the server.
 */
async function latency(context: BenchContext, address: string): Promise<void> {
  const { latencyEventsPerSecond: rate, latencyEvents: count } = context.sizes;
  const runId = `latency-${Date.now().toString(36)}`;
  // The first second is a warm-up, paced like the rest and not measured, so that the figure is the steady state.
  const warmUp = rate;
  const total = warmUp + count;
  const warmUpId = `${runId}-warm-up-`;
  const writer = new ProvenanceClient({ address, timeoutMs: 30_000 });
  const subscribers = await startLatencySubscribers({ address, subscribers: LATENCY_SUBSCRIBERS, total, skipPrefix: warmUpId });
  try {
    /** When the RecordJob call that wrote each job returned. */
    const returned = new Map<string, number>();
    const writes: Array<Promise<unknown>> = [];
    const started = performance.now();
    let mostInFlight = 0;
    let inFlight = 0;
    // Paced on a schedule, not one after the other: each write is sent when it is due, whether or not the ones before it have returned.
    for (let sent = 0; sent < total; ) {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const jobId = sent < warmUp ? `${warmUpId}${sent}` : `${runId}-${sent}`;
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        writes.push(
          writer.recordJob(queuedJob(jobId, sent, [])).then(() => {
            inFlight--;
            returned.set(jobId, wallClockMs());
          }),
        );
      }
      await sleep(1);
    }
    const writeSeconds = (performance.now() - started) / 1000;
    const [, { latencies, delivered }] = await Promise.all([Promise.all(writes), subscribers.result]);

    const afterReturn = delivered.map(([jobId, at]) => at - returned.get(jobId)!);
    const notes = {
      subscribers: LATENCY_SUBSCRIBERS,
      events: count,
      'warm-up events': warmUp,
      'writes/s sent': total / writeSeconds,
      'most writes in flight': mostInFlight,
      'delivery − RecordJob return, p50': `${afterReturn.length > 0 ? percentile(afterReturn, 0.5).toFixed(1) : 'n/a'} ms`,
      'delivered before the call returned': `${Math.round((100 * afterReturn.filter((ms) => ms < 0).length) / afterReturn.length)}%`,
    };
    const name = `latency commit → delivery at ${rate} events/s`;
    context.report({ scenario: SCENARIO, name: `${name}, p50`, unit: 'ms', value: percentile(latencies, 0.5), notes });
    context.report({ scenario: SCENARIO, name: `${name}, p99`, unit: 'ms', value: percentile(latencies, 0.99), limit: { max: 50 } });
  } finally {
    subscribers.child.kill();
    writer.close();
  }
}

interface LatencySubscribersTask {
  address: string;
  subscribers: number;
  /** Events each subscriber reads before it is done. */
  total: number;
  /** Events of jobs whose id starts with this are read but not measured (the warm-up). */
  skipPrefix: string;
}

interface LatencyResult {
  /** Of every subscriber's every measured event, in milliseconds. */
  latencies: number[];
  /** When the first subscriber received each measured job's event (wall clock, ms). */
  delivered: Array<[jobId: string, at: number]>;
}

/** Starts the subscribers' process and resolves once every subscriber is registered; result resolves when they have read everything. */
async function startLatencySubscribers(task: LatencySubscribersTask): Promise<{ child: ChildProcess; result: Promise<LatencyResult> }> {
  const child = fork(fileURLToPath(import.meta.url), [LATENCY_SUBSCRIBERS_ROLE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the latency subscribers exited with code ${code} before they were done`);
  });
  exited.catch(() => undefined);
  child.send(task);
  await Promise.race([once(child, 'message'), exited]);
  const result = Promise.race([once(child, 'message').then(([message]) => message as LatencyResult), exited]);
  return { child, result };
}

async function runLatencySubscribers(): Promise<void> {
  const [task] = (await once(process, 'message')) as [LatencySubscribersTask];
  const clients = Array.from({ length: task.subscribers }, () => subscriberClient(task.address));
  const watches = clients.map((client) => client.watchEvents({}));
  await Promise.all(watches.map((watch) => watch.subscribed()));
  process.send!('subscribed');
  const latencies: number[] = [];
  const delivered: Array<[string, number]> = [];
  const consume = async (watch: EventWatch, first: boolean): Promise<void> => {
    let taken = 0;
    for await (const event of watch) {
      const now = wallClockMs();
      if (!event.jobId.startsWith(task.skipPrefix)) {
        // The event's time is the server's clock (Date.now()) read as the write began, before its validation,
        // reads and commit: the closest stamp to the commit the event carries, and never after it. So this
        // overstates commit-to-delivery by the write's own duration (and up to 1 ms of the stamp's rounding),
        // but never understates it. The RecordJob call's return cannot stand in for the commit: it comes after
        // the commit and after the event was appended to the log, often after its delivery (see the note).
        latencies.push(now - event.time!.getTime());
        if (first) delivered.push([event.jobId, now]);
      }
      if (++taken === task.total) return;
    }
    throw new Error(`a subscriber's stream ended after ${taken} of ${task.total} events`);
  };
  await Promise.all(watches.map((watch, i) => consume(watch, i === 0)));
  for (const watch of watches) watch.close();
  for (const client of clients) client.close();
  process.send!({ latencies, delivered } satisfies LatencyResult, () => process.exit(0));
}

/** Each subscriber is a client of its own, on a connection of its own (grpc-js otherwise shares one between clients of the same address). */
function subscriberClient(address: string): ProvenanceClient {
  return new ProvenanceClient({ address, channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
}

/** A job recorded as QUEUED: its one event is job.provenance.created, so each record is one event. */
function queuedJob(jobId: string, index: number, parentJobIds: string[]) {
  return { jobId, type: 'bench.event', payload: { index }, parentJobIds, labels: { bench: SCENARIO }, status: JobStatus.JOB_STATUS_QUEUED };
}

/** Records count QUEUED jobs, a chain (each the parent of the next), in batches sent one after the other. */
async function recordQueuedJobs(client: ProvenanceClient, runId: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += RECORD_BATCH) {
    const requests = [];
    for (let i = start; i < Math.min(count, start + RECORD_BATCH); i++) requests.push(queuedJob(`${runId}-${i}`, i, i > 0 ? [`${runId}-${i - 1}`] : []));
    const response = await client.batchRecordJobs({ requests });
    const refused = response.results.find((r) => r.status && r.status.code !== 0);
    if (refused) throw new Error(`BatchRecordJobs refused a record: ${refused.status!.message}`);
  }
}

function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  // After the command name in parentheses, the fields start at the third (state); utime and stime are the 14th and 15th, in clock ticks (100 a second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface BroadcastServer {
  address: string;
  child: ChildProcess;
  /** Tells the server to send every message to every subscriber registered so far. */
  start(): void;
}

/**
 * The baseline: a bare grpc-js server, in a process of its own as ours is,
 * serving the WatchEvents method of the same clients; it holds the messages
 * already encoded and writes each to every subscriber, waiting for 'drain'
 * per subscriber as ours does, so a slow client slows only itself.
 */
async function startBroadcastServer(messages: Uint8Array[]): Promise<BroadcastServer> {
  const child = fork(fileURLToPath(import.meta.url), [BROADCAST_ROLE], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the broadcast server exited with code ${code} before serving`);
  });
  child.send({ messages });
  const [reply] = (await Promise.race([once(child, 'message'), exited])) as [{ address: string }];
  exited.catch(() => undefined);
  return { address: reply.address, child, start: () => child.send('start') };
}

async function serveBroadcast(): Promise<void> {
  const [{ messages }] = (await once(process, 'message')) as [{ messages: Uint8Array[] }];
  const encoded = messages.map((m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength));
  const calls = new Set<ServerWritableStream<Buffer, Buffer>>();
  const identity = (bytes: Buffer) => bytes;
  // The transport options our server sets, so that only the work per message differs.
  const server = new Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  server.addService(
    {
      watchEvents: {
        path: WATCH_EVENTS_PATH,
        requestStream: false,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      watchEvents: (call: ServerWritableStream<Buffer, Buffer>) => {
        calls.add(call);
        call.once('cancelled', () => calls.delete(call));
        call.sendMetadata(new Metadata());
      },
    },
  );
  const port = await new Promise<number>((done, fail) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : done(p))));
  process.on('message', (message) => {
    if (message === 'start') for (const call of calls) void sendAll(call, encoded);
  });
  process.once('disconnect', () => process.exit(0));
  process.send!({ address: `127.0.0.1:${port}` });
}

async function sendAll(call: ServerWritableStream<Buffer, Buffer>, messages: readonly Buffer[]): Promise<void> {
  for (const message of messages) {
    if (call.cancelled) return;
    if (!call.write(message)) await drainedOrCancelled(call);
  }
  call.end();
}

function drainedOrCancelled(call: ServerWritableStream<Buffer, Buffer>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

const roles: Record<string, () => Promise<void>> = { [BROADCAST_ROLE]: serveBroadcast, [LATENCY_SUBSCRIBERS_ROLE]: runLatencySubscribers };
const role = roles[process.argv[2] ?? ''];
if (role && resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  role().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
