import type { Logger } from 'pino';
import { ProvenanceError } from '../../domain/errors.js';
import { toServiceError } from '../errors.js';
import { principalIfAny } from '../principal-metadata.js';
import type { CallConcern } from './call-concerns.js';

export interface RateLimit {
  /** Calls per second each principal may make on average. */
  perSecond: number;
  /** Calls a principal may make at once after being idle. */
  burst: number;
}

const IDLE_BUCKET_MS = 60_000;
const SWEEP_AT_BUCKETS = 10_000;

/**
 * A token bucket per principal (tenant and subject), in this process: a call
 * over the limit ends RESOURCE_EXHAUSTED with a RetryInfo saying when a call
 * would be allowed again. Calls without a principal (health, reflection) are
 * not limited. Runs after the authentication concern.
 */
export function rateLimitConcern(limit: RateLimit, logger: Logger, now: () => number = Date.now): CallConcern {
  const buckets = new Map<string, { tokens: number; at: number }>();
  /** Milliseconds until the next call is allowed; 0 takes a token now. */
  const take = (key: string): number => {
    const time = now();
    if (buckets.size > SWEEP_AT_BUCKETS) for (const [k, b] of buckets) if (time - b.at > IDLE_BUCKET_MS) buckets.delete(k);
    const bucket = buckets.get(key) ?? { tokens: limit.burst, at: time };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((time - bucket.at) / 1000) * limit.perSecond);
    bucket.at = time;
    buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / limit.perSecond) * 1000);
  };
  return (method) => ({
    onReceiveMetadata: (metadata, next, refuse) => {
      const principal = principalIfAny(metadata);
      const waitMs = principal ? take(`${principal.tenant}\u0000${principal.subject}`) : 0;
      if (waitMs === 0) return next(metadata);
      const limited = new ProvenanceError('RESOURCE_EXHAUSTED', `more than ${limit.perSecond} calls per second; retry in ${waitMs} ms`, 'RATE_LIMITED', {
        retryDelayMs: waitMs,
      });
      const failure = toServiceError(limited, method.path, logger);
      refuse({ code: failure.code, details: failure.details, metadata: failure.metadata });
    },
  });
}
