import { loadAuthConfig, type AuthConfig } from '../auth/auth-config.js';
import { ConfigError } from './config-error.js';
import { address, boolean, integer, list, oneOf, retention, secret, tenantCacheSalts, token, type Read } from './values.js';
import { DEFAULT_VOLATILE_KEYS } from '../domain/hashing.js';
import { DEFAULT_REDACT_KEYS, normalizeSecretKey } from '../domain/redaction.js';

/**
 * Configuration comes from environment variables only. Each one is listed
 * in docs/configuration.md with its default; a bad value stops the process with one line
 * naming the variable.
 */
export interface Config {
  grpcAddress: string;
  /** Where health and metrics are served over HTTP; undefined when switched off. */
  httpAddress: string | undefined;
  /** Where a worker process (npm run worker) serves its health and metrics over HTTP; undefined (the default) when it serves none. */
  workerMetricsAddress: string | undefined;
  storage: { type: 'sqlite'; path: string } | { type: 'mongodb'; uri: string; database: string };
  redisUrl: string;
  /** How long a Redis command of a call (an event append, an enqueue) waits for its reply (PROVENANCE_REDIS_TIMEOUT_MS). */
  redisTimeoutMs: number;
  storeTimeoutMs: number;
  maxLineageDepth: number;
  maxLineageNodes: number;
  maxStreamLineageNodes: number;
  batchSize: number;
  maxParents: number;
  maxBatchParents: number;
  maxPayloadBytes: number;
  maxMessageBytes: number;
  maxRequestFields: number;
  rest: {
    /** The time a REST request's head may take to arrive, then the whole call (its body's arrival, the call on the gRPC listener, an event stream's opening). */
    timeoutMs: number;
    /** The largest REST request body. */
    maxBodyBytes: number;
  };
  volatileKeys: string[];
  redactKeys: string[];
  security: {
    auth: AuthConfig;
    allowInsecure: boolean;
    /** Keys page tokens and the opaque ids of restricted jobs; random per process when not configured. */
    secret: Buffer | undefined;
    /** Calls per second per principal; undefined: the default (500 when authentication is configured, none otherwise); 0: none. */
    rateLimitPerSecond: number | undefined;
    rateLimitBurst: number | undefined;
    /** Failed authentications a peer address may make (per minute, and at once); perMinute 0: no limit. */
    authFailureLimit: { perMinute: number; burst: number };
  };
  shutdownGraceMs: number;
  events: {
    retention: { maxCount: number } | { maxAgeMs: number };
    subscriberBuffer: number;
    relayIntervalMs: number;
    /** The access of the jobs events name, kept for showing events to subscribers (job-access-cache.ts). */
    accessCache: { maxEntries: number; ttlMs: number };
    maxSubscriptionsPerPrincipal: number;
  };
  execution: {
    inProcessWorkers: boolean;
    workerConcurrency: number;
    redisPrefix: string;
    jobTimeoutMs: number;
    jobRetries: number;
    jobBackoffMs: number;
    stallIntervalMs: number;
    cacheTtlMs: number;
    /** Each tenant's cache salt (PROVENANCE_CACHE_SALTS); a tenant not named has none. */
    tenantCacheSalts: ReadonlyMap<string, string>;
    maxOutputBytes: number;
    handlerModules: string[];
    repairIntervalMs: number;
  };
  healthCheckIntervalMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}


/** PROVENANCE_HTTP_ADDRESS=off: no HTTP listener (a blank value means the default, as for every variable); the default of PROVENANCE_WORKER_METRICS_ADDRESS. */
const HTTP_OFF = 'off';

type Env = Readonly<Record<string, string | undefined>>;

/** The address of an optional listener; undefined when it is off. */
function listenAddress(read: Read, name: string, fallback: string): string | undefined {
  const text = read(name) ?? fallback;
  return text === HTTP_OFF ? undefined : address(read, name, text);
}

export function loadConfig(env: Env = process.env): Config {
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const mongoUri = read('MONGODB_URI');
  const storageType = oneOf(read, 'PROVENANCE_STORAGE_TYPE', ['sqlite', 'mongodb'] as const, mongoUri ? 'mongodb' : 'sqlite');
  let storage: Config['storage'];
  if (storageType === 'mongodb') {
    if (!mongoUri) throw new ConfigError('MONGODB_URI', 'required when PROVENANCE_STORAGE_TYPE is mongodb');
    if (!/^mongodb(\+srv)?:\/\//.test(mongoUri)) throw new ConfigError('MONGODB_URI', 'must start with mongodb:// or mongodb+srv://');
    storage = { type: 'mongodb', uri: mongoUri, database: read('PROVENANCE_MONGODB_DATABASE') ?? databaseFromUri(mongoUri) ?? 'provenance' };
  } else {
    storage = { type: 'sqlite', path: read('PROVENANCE_SQLITE_PATH') ?? './data/provenance.db' };
  }
  const redisUrl = read('REDIS_URL') ?? 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\/[^/]/.test(redisUrl)) throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');

  const maxParents = integer(read, 'PROVENANCE_MAX_PARENTS', 1000, 1, 100_000);

  return {
    grpcAddress: address(read, 'PROVENANCE_GRPC_ADDRESS', '127.0.0.1:50051'),
    httpAddress: listenAddress(read, 'PROVENANCE_HTTP_ADDRESS', '127.0.0.1:8080'),
    workerMetricsAddress: listenAddress(read, 'PROVENANCE_WORKER_METRICS_ADDRESS', HTTP_OFF),
    storage,
    redisUrl,
    redisTimeoutMs: integer(read, 'PROVENANCE_REDIS_TIMEOUT_MS', 5_000, 100, 600_000),
    storeTimeoutMs: integer(read, 'PROVENANCE_STORE_TIMEOUT_MS', 5_000, 100, 600_000),
    maxLineageDepth: integer(read, 'PROVENANCE_MAX_LINEAGE_DEPTH', 100, 1, 10_000),
    maxLineageNodes: integer(read, 'PROVENANCE_MAX_LINEAGE_NODES', 100_000, 1, 10_000_000),
    maxStreamLineageNodes: integer(read, 'PROVENANCE_MAX_STREAM_LINEAGE_NODES', 10_000_000, 1, 100_000_000),
    batchSize: integer(read, 'PROVENANCE_BATCH_SIZE', 1000, 1, 100_000),
    maxParents,
    maxBatchParents: integer(read, 'PROVENANCE_MAX_BATCH_PARENTS', Math.max(10_000, maxParents), maxParents, 10_000_000),
    maxPayloadBytes: integer(read, 'PROVENANCE_MAX_PAYLOAD_BYTES', 1024 * 1024, 1, 1024 * 1024 * 1024),
    maxMessageBytes: integer(read, 'PROVENANCE_MAX_MESSAGE_BYTES', 64 * 1024 * 1024, 1024, 2 ** 31 - 1),
    maxRequestFields: integer(read, 'PROVENANCE_MAX_REQUEST_FIELDS', 250_000, 100, 100_000_000),
    rest: {
      timeoutMs: integer(read, 'PROVENANCE_REST_TIMEOUT_MS', 30_000, 100, 3_600_000),
      maxBodyBytes: integer(read, 'PROVENANCE_REST_MAX_BODY_BYTES', 4 * 1024 * 1024, 1024, 2 ** 31 - 1),
    },
    volatileKeys: list(read, 'PROVENANCE_VOLATILE_KEYS', DEFAULT_VOLATILE_KEYS),
    redactKeys: redactKeys(read),
    security: {
      auth: loadAuthConfig(read),
      allowInsecure: boolean(read, 'PROVENANCE_ALLOW_INSECURE', false),
      secret: secret(read, 'PROVENANCE_SECRET'),
      rateLimitPerSecond: read('PROVENANCE_RATE_LIMIT') === undefined ? undefined : integer(read, 'PROVENANCE_RATE_LIMIT', 0, 0, 1_000_000),
      rateLimitBurst: read('PROVENANCE_RATE_LIMIT_BURST') === undefined ? undefined : integer(read, 'PROVENANCE_RATE_LIMIT_BURST', 0, 1, 10_000_000),
      authFailureLimit: {
        perMinute: integer(read, 'PROVENANCE_AUTH_FAILURE_LIMIT', 60, 0, 1_000_000),
        burst: integer(read, 'PROVENANCE_AUTH_FAILURE_BURST', 20, 1, 1_000_000),
      },
    },
    shutdownGraceMs: integer(read, 'PROVENANCE_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    events: {
      retention: retention(read, 'PROVENANCE_EVENT_RETENTION', { maxCount: 1_000_000 }),
      subscriberBuffer: integer(read, 'PROVENANCE_SUBSCRIBER_BUFFER', 10_000, 1, 10_000_000),
      relayIntervalMs: integer(read, 'PROVENANCE_EVENT_RELAY_INTERVAL_MS', 10_000, 0, 86_400_000),
      accessCache: {
        maxEntries: integer(read, 'PROVENANCE_EVENT_ACCESS_CACHE_SIZE', 10_000, 0, 10_000_000),
        ttlMs: integer(read, 'PROVENANCE_EVENT_ACCESS_CACHE_TTL_MS', 1_000, 0, 600_000),
      },
      maxSubscriptionsPerPrincipal: integer(read, 'PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL', 100, 1, 1_000_000),
    },
    execution: {
      inProcessWorkers: boolean(read, 'PROVENANCE_IN_PROCESS_WORKERS', true),
      workerConcurrency: integer(read, 'PROVENANCE_WORKER_CONCURRENCY', 4, 1, 1000),
      redisPrefix: token(read, 'PROVENANCE_REDIS_PREFIX', 'provenance'),
      jobTimeoutMs: integer(read, 'PROVENANCE_JOB_TIMEOUT_MS', 300_000, 1, 86_400_000),
      jobRetries: integer(read, 'PROVENANCE_JOB_RETRIES', 2, 0, 100),
      jobBackoffMs: integer(read, 'PROVENANCE_JOB_BACKOFF_MS', 1_000, 1, 3_600_000),
      stallIntervalMs: integer(read, 'PROVENANCE_STALL_INTERVAL_MS', 5_000, 100, 3_600_000),
      cacheTtlMs: integer(read, 'PROVENANCE_CACHE_TTL', 86_400, 0, 10 * 365 * 86_400) * 1000,
      tenantCacheSalts: tenantCacheSalts(read, 'PROVENANCE_CACHE_SALTS'),
      maxOutputBytes: integer(read, 'PROVENANCE_MAX_OUTPUT_BYTES', 64 * 1024, 0, 1024 * 1024 * 1024),
      handlerModules: read('PROVENANCE_HANDLERS') === undefined ? [] : list(read, 'PROVENANCE_HANDLERS', []),
      repairIntervalMs: integer(read, 'PROVENANCE_REPAIR_INTERVAL_MS', 60_000, 0, 86_400_000),
    },
    healthCheckIntervalMs: integer(read, 'PROVENANCE_HEALTH_CHECK_INTERVAL_MS', 5_000, 100, 600_000),
    logLevel: oneOf(read, 'PROVENANCE_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  };
}

/** Every entry must name a key once normalized: "*" or "_" alone would match every key, or none. */
function redactKeys(read: Read): string[] {
  const entries = list(read, 'PROVENANCE_REDACT_KEYS', DEFAULT_REDACT_KEYS);
  const empty = entries.find((entry) => normalizeSecretKey(entry.replace(/^\*/, '')) === '');
  if (empty !== undefined) throw new ConfigError('PROVENANCE_REDACT_KEYS', `"${empty}" names no key (keys are compared without case and separators; "*" starts a suffix)`);
  return entries;
}

function databaseFromUri(uri: string): string | undefined {
  const path = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]*)/.exec(uri)?.[1];
  return path ? decodeURIComponent(path) : undefined;
}

export { ConfigError };
