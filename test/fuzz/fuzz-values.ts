import type { SeededRandom } from '../support/seeded-random.js';

/**
 * What the generators draw from: the seeded PRNG, ids of jobs that exist
 * (so that some requests get past their lookups and reach deeper code), and
 * how many bytes of strings and elements the request being built may still
 * take (so that no single request is too big to send in a bounded time).
 */
export interface FuzzContext {
  random: SeededRandom;
  jobIds: readonly string[];
  budget: { bytes: number };
  /**
   * The chance that a value is an odd one rather than one that fits its
   * field: 1 makes requests that are wrong almost everywhere, a small one
   * requests that are right but in a place or two, which get past
   * validation to the code behind it.
   */
  oddness: number;
}

/** Whether the next value is to be an odd one (see FuzzContext.oddness). */
export function odd(context: FuzzContext): boolean {
  return context.random.chance(context.oddness);
}

/** Strings that have broken parsers, lookups and object-keyed code before: prototype members, escapes, separators, controls, lengths at the bounds. */
const ODD_STRINGS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '../../etc/passwd',
  '%zz',
  '%',
  '%00',
  'a/b',
  'a:b:cancel',
  '\u0000',
  '\u202e',
  '\ud83d\ude00',
  '\ud800',
  'é',
  '-leading-dash',
  'UPPER_CASE',
  'null',
  'undefined',
  '1e999',
  '-1',
  'acme/',
  '/subject',
  'acme',
  'a/b/c',
  '<script>alert(1)</script>',
  '"quoted"',
  "it's",
  'line\nbreak',
  'tab\tin',
  'x'.repeat(63),
  'x'.repeat(64),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(257),
];

/** Types of the handlers every server registers (echo, sha256, merge, sleep, fail), and ones no handler has. */
const JOB_TYPES = ['echo', 'sha256', 'merge', 't', 'test.traced'];
const EVENT_TYPES = ['job.provenance.created', 'job.provenance.completed', 'compute.job.cached', 'no.such.event'];
const FILTER_FIELDS = ['type', 'status', 'create_time', 'labels.team', 'labels.', 'labels.__proto__', 'provider.id', 'provider.model', 'provider.version', 'definition_hash', 'subject', 'job_id', 'time', 'constructor', '__proto__', 'toString', 'unknown'];
const FILTER_OPERATORS = ['=', '<', '<=', '>', '>=', '!=', '~', ':', '=='];
const FILTER_VALUES = ['"echo"', 'SUCCEEDED', 'JOB_STATUS_FAILED', 'NOT_A_STATUS', '"2026-01-01T00:00:00Z"', '"2026-02-30T00:00:00Z"', '"x"', '""', '"unterminated', '"\\u0000"', '"\\"', '42', '-1', 'AND'];
const FILTER_JOINS = [' AND ', ' AND ', ' AND ', ' OR ', ' and ', ' ', ' AND AND ', ') AND (', ' NOT '];

const FITTING_FILTERS = ['type = "t"', 'status = SUCCEEDED', 'status = JOB_STATUS_QUEUED', 'labels.team = "fuzz"', 'create_time >= "2026-01-01T00:00:00Z"', 'subject = "fuzzer"', 'job_id = "fuzz-root"', 'time >= "2026-01-01T00:00:00Z"', ''];

/** A ListJobs or ListAuditEvents filter: mostly well-formed comparisons of known and unknown fields, sometimes far too many, sometimes garbled. */
export function fuzzFilter(context: FuzzContext): string {
  const { random } = context;
  if (!odd(context)) return random.pick(FITTING_FILTERS);
  const comparisons = random.chance(0.05) ? random.int(90, 3000) : random.int(0, 4);
  const parts: string[] = [];
  for (let i = 0; i < comparisons; i++) parts.push(`${random.pick(FILTER_FIELDS)} ${random.pick(FILTER_OPERATORS)} ${random.pick(FILTER_VALUES)}`);
  let text = parts.join(random.pick(FILTER_JOINS));
  if (random.chance(0.15)) {
    const at = random.int(0, text.length);
    text = text.slice(0, at) + randomText(context, random.int(1, 5)) + text.slice(at);
  }
  return spend(context, text);
}

/**
 * A string for the field of that (proto) name: often one that fits the
 * field (an existing job id for a job id, a filter for a filter), else an
 * odd one, random text, or a long one.
 */
export function fuzzString(context: FuzzContext, fieldName: string): string {
  const { random } = context;
  const roll = random.next();
  if (roll < 0.35 || !odd(context)) return spend(context, fittingString(context, fieldName));
  if (roll < 0.6) return spend(context, random.pick(ODD_STRINGS));
  if (roll < 0.85) return spend(context, randomText(context, random.int(1, 40)));
  if (roll < 0.97 || context.budget.bytes < 20_000) return spend(context, randomText(context, random.int(100, Math.min(2_000, Math.max(100, context.budget.bytes)))));
  return spend(context, 'y'.repeat(random.int(10_000, Math.min(300_000, context.budget.bytes))));
}

function fittingString(context: FuzzContext, fieldName: string): string {
  const { random } = context;
  if (/filter/.test(fieldName)) return fuzzFilter(context);
  if (/job_id|lineage_of/.test(fieldName) && context.jobIds.length > 0 && random.chance(0.6)) return random.pick(context.jobIds);
  if (/event_types/.test(fieldName)) return random.pick(EVENT_TYPES);
  if (/type/.test(fieldName)) return random.pick(JOB_TYPES);
  if (/reader_subjects/.test(fieldName)) return random.pick(['acme/fuzzer', 'globex/ci-bot', 'acme/spiffe://trust/ns/etl']);
  if (/_key$/.test(fieldName)) return random.pick(['team', 'env', 'stage', 'owner_id', `k-${random.int(0, 99)}`]);
  if (/hash/.test(fieldName)) return random.chance(0.7) ? hex(random, 64) : `sha256:${hex(random, random.int(0, 80))}`;
  if (/token|cursor/.test(fieldName)) return random.pick([Buffer.from(randomText(context, random.int(1, 60))).toString('base64url'), `${random.int(0, 2 ** 40)}-${random.int(0, 9)}`, 'eyJ0IjoxfQ', '0-0']);
  if (/etag/.test(fieldName)) return random.pick(['"1"', 'W/"x"', '*', hex(random, 16)]);
  if (/request_id/.test(fieldName)) return random.pick([`${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-8${hex(random, 3)}-${hex(random, 12)}`, `req-${random.int(0, 20)}`]);
  return identifier(random);
}

/** A short id of the kind clients choose: lowercase, digits, dots, dashes; sometimes one that exists. */
export function identifier(random: SeededRandom): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789.-_';
  let text = 'fz';
  for (let i = random.int(1, 16); i > 0; i--) text += alphabet[random.int(0, alphabet.length - 1)];
  return text;
}

/** Text of that many UTF-16 units from a mix of ASCII, controls, Latin, CJK, astral characters and lone surrogates. */
export function randomText(context: FuzzContext, length: number): string {
  const { random } = context;
  let text = '';
  while (text.length < length) {
    const roll = random.next();
    if (roll < 0.6) text += String.fromCharCode(random.int(0x20, 0x7e));
    else if (roll < 0.7) text += String.fromCharCode(random.int(0, 0x1f));
    else if (roll < 0.8) text += String.fromCharCode(random.int(0xa0, 0x24f));
    else if (roll < 0.9) text += String.fromCharCode(random.int(0x4e00, 0x9fff));
    else if (roll < 0.97) text += String.fromCodePoint(random.int(0x1f300, 0x1faff));
    else text += String.fromCharCode(random.int(0xd800, 0xdfff));
  }
  return text.slice(0, length);
}

/** An integer a field of that kind may hold, or one just past it: bounds, off-by-ones, negatives, numbers no int32 holds. */
export function fuzzInteger(context: FuzzContext): bigint {
  const { random } = context;
  if (!odd(context)) return BigInt(random.int(0, 50));
  return random.pick<() => bigint>([
    () => 0n,
    () => 1n,
    () => -1n,
    () => BigInt(random.int(2, 200)),
    () => BigInt(random.pick([100, 999, 1000, 1001, 10_000, 100_000, 100_001])),
    () => 2n ** 31n - 1n,
    () => -(2n ** 31n),
    () => 2n ** 31n,
    () => 2n ** 32n - 1n,
    () => 99_999_999_999n,
    () => 2n ** 63n - 1n,
    () => -(2n ** 63n),
    () => BigInt(random.int(-1_000_000, 1_000_000)),
  ])();
}

export function fuzzDouble(context: FuzzContext): number {
  const { random } = context;
  if (!odd(context)) return random.int(0, 1000) / 8;
  return random.pick([0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53 + 1, random.next() * 1e6 - 5e5]);
}

/** How many elements a repeated field or map gets: mostly a few, sometimes hundreds or thousands, as the budget allows. */
export function elementCount(context: FuzzContext): number {
  const { random } = context;
  const roll = odd(context) ? random.next() : 0;
  const wanted = roll < 0.6 ? random.int(0, 3) : roll < 0.9 ? random.int(4, 20) : roll < 0.98 ? random.int(100, 1_500) : random.int(1_500, 6_000);
  return Math.max(0, Math.min(wanted, Math.floor(context.budget.bytes / 16)));
}

export function hex(random: SeededRandom, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += '0123456789abcdef'[random.int(0, 15)];
  return text;
}

/** Takes the text's length off the budget; a request over budget gets empty strings from then on. */
function spend(context: FuzzContext, text: string): string {
  if (context.budget.bytes <= 0) return '';
  context.budget.bytes -= text.length + 4;
  return text;
}

/**
 * Mostly the admin's key (withKey of the calls); else no credential, a wrong key, a malformed Authorization, or two
 * credentials at once; sometimes an X-Request-Id of any kind. The same for gRPC metadata and HTTP headers.
 */
export function fuzzCredentials(random: SeededRandom, adminKey: string, index: number, withKey: number): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  if (random.chance(withKey)) entries.push(['x-api-key', adminKey]);
  else {
    entries.push(
      ...random.pick<Array<[string, string]>>([
        [],
        [['x-api-key', `pk_${identifier(random)}`]],
        [['authorization', `Bearer ${identifier(random)}`]],
        [['authorization', identifier(random)]],
        [['authorization', 'Basic Zm9vOmJhcg==']],
        [['authorization', 'Bearer']],
        [
          ['x-api-key', adminKey],
          ['authorization', `Bearer ${identifier(random)}`],
        ],
        [
          ['x-api-key', adminKey],
          ['x-api-key', adminKey],
        ],
      ]),
    );
  }
  if (random.chance(0.1)) entries.push(['x-request-id', random.chance(0.5) ? `fuzz-${index}` : identifier(random).repeat(random.int(1, 40))]);
  return entries;
}
