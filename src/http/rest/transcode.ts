import { invalidArgument, type FieldViolation } from '../../domain/errors.js';
import type { RestRoute } from './rest-routes.js';

/**
 * The gRPC request of a REST call, as Google's HTTP transcoding builds it:
 * the fields bound by the path, then (for GET) the query parameters, or
 * (for body "*") the JSON body in the proto3 JSON mapping. Anything that
 * does not fit is INVALID_ARGUMENT with a field violation per problem, as
 * the gRPC twin would say it.
 */
export function transcodeRequest(route: RestRoute, pathValues: Record<string, string>, query: URLSearchParams, body: string): unknown {
  const violations: FieldViolation[] = [];
  const json: Record<string, unknown> = route.hasBody ? parseBody(body, violations) : {};
  for (const name of Object.keys(json)) {
    if (!route.requestFields.has(name)) violations.push({ field: name, description: `no such field in the request of ${route.operationId}` });
  }
  if (!route.hasBody && body.trim() !== '') violations.push({ field: 'body', description: `${route.httpMethod} ${route.template} takes no body` });
  for (const name of new Set(query.keys())) {
    const field = route.queryFields.get(name);
    if (!field) {
      violations.push({ field: name, description: `no such query parameter; ${route.template} takes ${[...route.queryFields.keys()].join(', ') || 'none'}` });
      continue;
    }
    const values = query.getAll(name).map((text) => queryValue(text, field.type, field.enumPrefix));
    if (values.length > 1 && !field.repeated) violations.push({ field: name, description: 'given more than once' });
    if (values.includes(undefined)) violations.push({ field: name, description: `must be ${field.type === 'integer' ? 'an integer' : 'true or false'}` });
    else json[name] = field.repeated ? values : values[0];
  }
  for (const [field, value] of Object.entries(pathValues)) {
    const inBody = json[field] ?? json[camelCase(field)];
    if (inBody !== undefined && inBody !== value) violations.push({ field, description: `the path says ${JSON.stringify(value)}, the body ${JSON.stringify(inBody)}` });
    json[field] = value;
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return route.request.fromJSON(json);
}

function parseBody(body: string, violations: FieldViolation[]): Record<string, unknown> {
  if (body.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    violations.push({ field: 'body', description: 'must be a JSON object (the request message in the proto3 JSON mapping)' });
  } catch (error) {
    violations.push({ field: 'body', description: `is not JSON: ${error instanceof Error ? error.message : String(error)}` });
  }
  return {};
}

/** A query parameter's value as the JSON mapping has it; undefined when it is not of its type. Enums may leave out their prefix, in any case. */
function queryValue(text: string, type: 'string' | 'integer' | 'boolean', enumPrefix: string | undefined): unknown {
  if (type === 'integer') return /^-?\d+$/.test(text) ? Number(text) : undefined;
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  if (enumPrefix && /^[a-z][a-z0-9_-]*$/i.test(text) && !text.toUpperCase().startsWith(enumPrefix)) return enumPrefix + text.toUpperCase().replace(/-/g, '_');
  return text;
}

function camelCase(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
