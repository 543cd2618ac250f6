import type { Duration } from './gen/google/protobuf/duration.js';

/**
 * A google.protobuf.Duration (as generated: `seconds` an int64 string,
 * `nanos`) in whole milliseconds, the unit of setTimeout and Date
 * arithmetic; undefined when the field is absent. Sub-millisecond parts are
 * dropped, toward zero.
 */
export function durationMs(duration: Duration | undefined): number | undefined {
  return duration === undefined ? undefined : Number(duration.seconds) * 1000 + Math.trunc(duration.nanos / 1e6);
}
