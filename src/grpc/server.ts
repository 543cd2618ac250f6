import { readFileSync } from 'node:fs';
import { Server, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { splitAddress } from '../platform/address.js';
import { DESCRIPTOR_SET_PATH } from '../platform/generated-documents.js';
import type { CallDependencies } from './call.js';
import { sendFramedAnswers } from './framed-answers.js';
import { ServingHealth } from './health.js';
import { concernsInterceptor, type CallConcern } from './interceptors/call-concerns.js';
import { sendWindowInterceptor } from './interceptors/send-window.js';
import { streamLifetimeInterceptor } from './interceptors/stream-lifetime.js';
import * as provenanceApi from './provenance-api.js';
import { createReflection } from './reflection.js';
import { requestFieldCounters, requestTimestampChecks, requestValueChecks } from './request-fields.js';
import { keepProtoKeysAsData } from './proto-keys.js';

export interface GrpcServerOptions {
  address: string;
  credentials: ServerCredentials;
  /** Request id, metrics, authentication, rate limit...: run in this order, as one interceptor (call-concerns.ts). */
  concerns: CallConcern[];
  maxMessageBytes: number;
  /** The most fields a request may hold, nested ones included (PROVENANCE_MAX_REQUEST_FIELDS). */
  maxRequestFields: number;
  shutdownGraceMs: number;
  healthCheckIntervalMs: number;
}

export interface RunningServer {
  /** host:port actually bound (the port is chosen by the system when the configured one is 0). */
  address: string;
  /** NOT_SERVING, then a graceful shutdown bounded by the grace period, then a forced one. */
  shutdown(): Promise<void>;
}


/** `context` is what every call needs but the message limit, which comes from `options`. */
export async function startGrpcServer(options: GrpcServerOptions, context: Omit<CallDependencies, 'maxMessageBytes'>): Promise<RunningServer> {
  keepProtoKeysAsData();
  sendFramedAnswers();
  const server = new Server({
    // WatchEvents relies on the stream lifetime for its deadline and for hearing of its call's end (stream-lifetime.ts), and on
    // the send window, which sees the handler's messages first, for handing several events to HTTP/2 at once (send-window.ts).
    interceptors: [concernsInterceptor(options.concerns), streamLifetimeInterceptor(context.logger), sendWindowInterceptor()],
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // Pings find dead peers of long-lived streams; clients may ping every 10 s.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // No channelz service is served, so its per-call counters and closures would be kept for no reader.
    'grpc.enable_channelz': 0,
  });
  const descriptorSet = readFileSync(DESCRIPTOR_SET_PATH);
  const decoding = {
    maxFields: options.maxRequestFields,
    fieldCounters: requestFieldCounters(descriptorSet),
    timestampChecks: requestTimestampChecks(descriptorSet),
    valueChecks: requestValueChecks(descriptorSet),
  };
  provenanceApi.addToServer(server, { ...context, decoding, maxMessageBytes: options.maxMessageBytes });
  const health = new ServingHealth(() => context.service.isReady(), () => context.service.backgroundLoad());
  health.implementation.addToServer(server);
  createReflection(DESCRIPTOR_SET_PATH).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, options.credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  await health.start(options.healthCheckIntervalMs);
  return {
    address: `${splitAddress(options.address).host}:${port}`,
    shutdown: () => shutdown(server, health, options.shutdownGraceMs, context.logger),
  };
}

async function shutdown(server: Server, health: ServingHealth, graceMs: number, logger: Logger): Promise<void> {
  health.stop();
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      logger.warn({ graceMs }, 'calls still open after the grace period: forcing shutdown');
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
