import { DEFAULT_VOLATILE_KEYS } from './domain/hashing.js';

/**
 * Configuration comes from environment variables only. Each one is listed
 * in README.md with its default; a bad value stops the process with one line
 * naming the variable.
 */
export interface Config {
  grpcAddress: string;
  storage: { type: 'sqlite'; path: string } | { type: 'mongodb'; uri: string; database: string };
  redisUrl: string;
  storeTimeoutMs: number;
  maxLineageDepth: number;
  maxLineageNodes: number;
  batchSize: number;
  maxPayloadBytes: number;
  maxMessageBytes: number;
  volatileKeys: string[];
  shutdownGraceMs: number;
  events: {
    retention: { maxCount: number } | { maxAgeMs: number };
    subscriberBuffer: number;
    relayIntervalMs: number;
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
    maxOutputBytes: number;
    handlerModules: string[];
    repairIntervalMs: number;
  };
  healthCheckIntervalMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

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

  return {
    grpcAddress: address(read, 'PROVENANCE_GRPC_ADDRESS', '127.0.0.1:50051'),
    storage,
    redisUrl,
    storeTimeoutMs: integer(read, 'PROVENANCE_STORE_TIMEOUT_MS', 5_000, 100, 600_000),
    maxLineageDepth: integer(read, 'PROVENANCE_MAX_LINEAGE_DEPTH', 100, 1, 10_000),
    maxLineageNodes: integer(read, 'PROVENANCE_MAX_LINEAGE_NODES', 100_000, 1, 10_000_000),
    batchSize: integer(read, 'PROVENANCE_BATCH_SIZE', 1000, 1, 100_000),
    maxPayloadBytes: integer(read, 'PROVENANCE_MAX_PAYLOAD_BYTES', 1024 * 1024, 1, 1024 * 1024 * 1024),
    maxMessageBytes: integer(read, 'PROVENANCE_MAX_MESSAGE_BYTES', 64 * 1024 * 1024, 1024, 2 ** 31 - 1),
    volatileKeys: list(read, 'PROVENANCE_VOLATILE_KEYS', DEFAULT_VOLATILE_KEYS),
    shutdownGraceMs: integer(read, 'PROVENANCE_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    events: {
      retention: retention(read, 'PROVENANCE_EVENT_RETENTION', { maxCount: 1_000_000 }),
      subscriberBuffer: integer(read, 'PROVENANCE_SUBSCRIBER_BUFFER', 10_000, 1, 10_000_000),
      relayIntervalMs: integer(read, 'PROVENANCE_EVENT_RELAY_INTERVAL_MS', 10_000, 0, 86_400_000),
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
      maxOutputBytes: integer(read, 'PROVENANCE_MAX_OUTPUT_BYTES', 64 * 1024, 0, 1024 * 1024 * 1024),
      handlerModules: read('PROVENANCE_HANDLERS') === undefined ? [] : list(read, 'PROVENANCE_HANDLERS', []),
      repairIntervalMs: integer(read, 'PROVENANCE_REPAIR_INTERVAL_MS', 60_000, 0, 86_400_000),
    },
    healthCheckIntervalMs: integer(read, 'PROVENANCE_HEALTH_CHECK_INTERVAL_MS', 5_000, 100, 600_000),
    logLevel: oneOf(read, 'PROVENANCE_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  };
}

function integer(read: (name: string) => string | undefined, name: string, fallback: number, min: number, max: number): number {
  const text = read(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new ConfigError(name, `must be a whole number, got "${text}"`);
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(read: (name: string) => string | undefined, name: string, fallback: boolean): boolean {
  const text = read(name);
  if (text === undefined) return fallback;
  if (text !== 'true' && text !== 'false') throw new ConfigError(name, `must be true or false, got "${text}"`);
  return text === 'true';
}

const AGE_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A number of events ("1000000"), or an age ("30s", "15m", "24h", "7d"). */
function retention(read: (name: string) => string | undefined, name: string, fallback: { maxCount: number }): { maxCount: number } | { maxAgeMs: number } {
  const text = read(name);
  if (text === undefined) return fallback;
  const match = /^(\d{1,12})([smhd])?$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new ConfigError(name, `must be a positive number of events (e.g. 1000000) or an age (e.g. 24h, 7d), got "${text}"`);
  const amount = Number(match[1]);
  return match[2] ? { maxAgeMs: amount * AGE_UNITS_MS[match[2] as keyof typeof AGE_UNITS_MS] } : { maxCount: amount };
}

function token(read: (name: string) => string | undefined, name: string, fallback: string): string {
  const text = read(name) ?? fallback;
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(text)) throw new ConfigError(name, `must be 1 to 64 letters, digits, '.', '_', ':' or '-', got "${text}"`);
  return text;
}

function oneOf<T extends string>(read: (name: string) => string | undefined, name: string, allowed: readonly T[], fallback: T): T {
  const text = read(name);
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${text}"`);
  return text as T;
}

function address(read: (name: string) => string | undefined, name: string, fallback: string): string {
  const text = read(name) ?? fallback;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match || Number(match[3]) > 65535) throw new ConfigError(name, `must be host:port (e.g. 127.0.0.1:50051 or [::1]:50051), got "${text}"`);
  return text;
}

function list(read: (name: string) => string | undefined, name: string, fallback: readonly string[]): string[] {
  const text = read(name);
  if (text === undefined) return [...fallback];
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new ConfigError(name, `must be a comma-separated list without empty items, got "${text}"`);
  return items;
}

function databaseFromUri(uri: string): string | undefined {
  const path = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]*)/.exec(uri)?.[1];
  return path ? decodeURIComponent(path) : undefined;
}
