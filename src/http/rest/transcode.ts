import { invalidArgument, type FieldViolation } from '../../domain/errors.js';
import { MAX_JSON_DEPTH } from '../../domain/validation.js';
import { tooManyFieldsDescription } from '../../grpc/request-decoding.js';
import type { QueryField, RestRoute } from './rest-routes.js';

/**
 * The gRPC request of a REST call, as Google's HTTP transcoding builds it:
 * the fields bound by the path (still percent-encoded, as matched), then
 * (for GET) the query parameters, or (for body "*") the JSON body in the
 * proto3 JSON mapping. Anything that does not fit is INVALID_ARGUMENT with a
 * field violation per problem, as the gRPC twin would say it; nothing that
 * does not fit reaches ts-proto's fromJSON and encoder. A body of more than
 * maxFields fields (PROVENANCE_MAX_REQUEST_FIELDS) is refused as the gRPC
 * listener refuses it, but before anything else is done with it: checking and
 * encoding it cost per field, seconds for a 4 MiB body of empty records.
 */
export function transcodeRequest(route: RestRoute, pathValues: Record<string, string>, query: URLSearchParams, body: string, maxFields: number): unknown {
  const violations: FieldViolation[] = [];
  const json: Record<string, unknown> = route.hasBody ? parseBody(route, body, maxFields, violations) : {};
  if (!route.hasBody && body.trim() !== '') violations.push({ field: 'body', description: `${route.httpMethod} ${route.template} takes no body` });
  for (const name of new Set(query.keys())) {
    const field = route.queryFields.get(name);
    if (!field) {
      violations.push({ field: name, description: `no such query parameter; ${route.template} takes ${[...route.queryFields.keys()].join(', ') || 'none'}` });
      continue;
    }
    const values = query.getAll(name).map((text) => queryValue(text, field));
    if (values.length > 1 && !field.repeated) violations.push({ field: name, description: 'given more than once' });
    else json[name] = field.repeated ? values : values[0];
  }
  for (const [field, encoded] of Object.entries(pathValues)) {
    const value = decodedSegment(encoded);
    if (value === undefined) {
      violations.push({ field, description: 'is not valid percent-encoding: "%" must start an escape of UTF-8, as two hex digits' });
      continue;
    }
    const inBody = json[field] ?? json[camelCase(field)];
    if (inBody !== undefined && inBody !== value) violations.push({ field, description: `the path says ${JSON.stringify(value)}, the body ${JSON.stringify(inBody)}` });
    delete json[camelCase(field)];
    json[field] = value;
  }
  if (violations.length === 0) violations.push(...route.check(json));
  if (violations.length > 0) throw invalidArgument(violations);
  return route.request.fromJSON(json);
}

/** The request in the protobuf binary encoding; whatever the encoder still refuses is the caller's input, not a failure of the server. */
export function encodedRequest(route: RestRoute, message: unknown): Buffer {
  try {
    return Buffer.from(route.request.encode(message).finish());
  } catch (error) {
    throw invalidArgument([{ field: 'body', description: `cannot be encoded as the request of ${route.operationId}: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}

function parseBody(route: RestRoute, body: string, maxFields: number, violations: FieldViolation[]): Record<string, unknown> {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    violations.push({ field: 'body', description: `is not JSON: ${error instanceof Error ? error.message : String(error)}` });
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    violations.push({ field: 'body', description: 'must be a JSON object (the request message in the proto3 JSON mapping)' });
    return {};
  }
  // Counted before anything walks the whole body (with an end at the limit): such walks are the work the limit spares.
  if (route.fieldCountAtLeast(parsed as Record<string, unknown>, maxFields) > maxFields) {
    throw invalidArgument([{ field: 'request', description: tooManyFieldsDescription(maxFields) }]);
  }
  // The service refuses payloads nested deeper; the encoder would run out of stack on thousands of levels.
  if (deeperThan(parsed, MAX_JSON_DEPTH)) {
    violations.push({ field: 'body', description: `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels` });
    return {};
  }
  return parsed as Record<string, unknown>;
}

/** Whether the value nests objects and arrays more than levels deep; looks no deeper than that. */
function deeperThan(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levels === 0) return true;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (deeperThan(item, levels - 1)) return true;
  return false;
}

function decodedSegment(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/**
 * A query parameter's value in the JSON mapping: booleans as JSON booleans,
 * anything else as its text (integers are checked against their type's range
 * with the rest of the request). Enums may leave out their prefix, in any case.
 */
function queryValue(text: string, field: QueryField): unknown {
  if (field.type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  const prefix = field.enumPrefix;
  if (prefix && /^[a-z][a-z0-9_-]*$/i.test(text) && !text.toUpperCase().startsWith(prefix)) return prefix + text.toUpperCase().replace(/-/g, '_');
  if (prefix) return text.toUpperCase();
  return text;
}

function camelCase(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
