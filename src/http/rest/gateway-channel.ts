import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isTransportStatus, UnaryCaller } from './unary-caller.js';

/** Transport failures in a row after which the gateway asks whether a fresh connection does better. */
const FAILURES_BEFORE_PROBE = 3;
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

export interface GatewayChannelOptions {
  /** host:port of this process's gRPC listener. */
  target: string;
  /** Over TLS, without checking the certificate: the gateway dials its own listener. */
  tls: boolean;
  /** The largest gRPC message either way, as PROVENANCE_MAX_MESSAGE_BYTES. */
  maxMessageBytes: number;
  /** How long the probe of a fresh connection may take. */
  probeTimeoutMs: number;
  logger: Logger;
}

/**
 * The REST gateway's channel to its own gRPC listener, replaced when it is
 * stuck: grpc-js's client for server streams, and a connection of its own
 * for unary calls (UnaryCaller, which reads an answer as it arrives).
 * Every REST call of every caller shares it, so a connection that
 * stops answering (a stream the server could not end, a peer that went
 * quiet) would hang them all until a restart. When calls keep failing at
 * the transport (DEADLINE_EXCEEDED or UNAVAILABLE without the server's
 * google.rpc.Status), a fresh connection asks the listener's health: if the
 * listener answers, the old channel is the problem, and the fresh one takes
 * its place, with a fresh connection for unary calls (calls already on the
 * old ones finish or time out there). If the
 * listener does not answer either, a new channel would not help, and the
 * calls keep reporting what they get.
 */
export class GatewayChannel {
  private current: Client;
  readonly unary: UnaryCaller;
  private failures = 0;
  private probing = false;
  private closed = false;

  constructor(private readonly options: GatewayChannelOptions) {
    this.current = this.open();
    this.unary = new UnaryCaller({ target: options.target, tls: options.tls, maxReceiveBytes: options.maxMessageBytes });
  }

  get client(): Client {
    return this.current;
  }

  /** What a call on the channel came to; null for a call that got its answer, whatever its status. */
  outcome(error: ServiceError | null): void {
    this.transportOutcome(error !== null && isTransportFailure(error));
  }

  /** Whether a call failed at the transport (no answer of the server's) or got its answer. */
  transportOutcome(failed: boolean): void {
    if (!failed) {
      this.failures = 0;
      return;
    }
    this.failures += 1;
    if (this.failures >= FAILURES_BEFORE_PROBE && !this.probing && !this.closed) void this.probe();
  }

  close(): void {
    this.closed = true;
    this.current.close();
    this.unary.close();
  }

  /** A channel with connections of its own: channels of the same target and options share connections by default. */
  private open(): Client {
    const { tls, maxMessageBytes } = this.options;
    return new Client(this.options.target, tls ? credentials.createSsl(null, null, null, { rejectUnauthorized: false }) : credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
      'grpc.use_local_subchannel_pool': 1,
    });
  }

  private async probe(): Promise<void> {
    this.probing = true;
    const fresh = this.open();
    const answered = await new Promise<boolean>((resolve) => {
      fresh.makeUnaryRequest(
        HEALTH_CHECK,
        () => Buffer.alloc(0),
        (bytes: Buffer) => bytes,
        {},
        new Metadata(),
        { deadline: Date.now() + this.options.probeTimeoutMs },
        (error: ServiceError | null) => resolve(!error || !isTransportFailure(error)),
      );
    });
    this.probing = false;
    if (!answered || this.closed) {
      fresh.close();
      return;
    }
    this.options.logger.warn({ failures: this.failures, target: this.options.target }, 'REST gateway channel replaced: its calls kept failing while a fresh connection answers');
    const stuck = this.current;
    this.current = fresh;
    this.unary.reset();
    this.failures = 0;
    stuck.close();
  }
}

/** A grpc-js call's failure of the connection rather than an answer of the server (isTransportStatus). */
export function isTransportFailure(error: ServiceError): boolean {
  return isTransportStatus(error.code, (error.metadata?.get('grpc-status-details-bin').length ?? 0) > 0);
}
