import { readFileSync } from 'node:fs';
import { FileDescriptorSet, type FileDescriptorProto } from '@provenance/client/gen/google/protobuf/descriptor';
import * as auditMessages from '@provenance/client/gen/provenance/v1/audit';
import * as jobMessages from '@provenance/client/gen/provenance/v1/job';
import * as serviceMessages from '@provenance/client/gen/provenance/v1/provenance_service';
import type { FieldViolation } from '../../domain/errors.js';
import { keepProtoKeysAsData } from '../../grpc/proto-keys.js';
import { DurationMapping } from './durations.js';
import { JsonMapping } from './json-mapping.js';

/** The proto3 JSON mapping of one message type, as ts-proto generates it. */
export interface JsonCodec {
  fromJSON(object: unknown): unknown;
  toJSON(message: unknown): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

export type QueryType = 'string' | 'integer' | 'boolean';

export interface QueryField {
  type: QueryType;
  repeated: boolean;
  /** The prefix an enum's values share (LINEAGE_VIEW_), which a short value (ids) leaves out. */
  enumPrefix?: string;
}

/** A REST twin of a unary method: its google.api.http binding, as the generated OpenAPI document states it. */
export interface RestRoute {
  /** The method's name, e.g. GetLineage. */
  operationId: string;
  /** The gRPC path, e.g. /provenance.v1.ProvenanceService/GetLineage. */
  grpcPath: string;
  httpMethod: string;
  /** The path template, e.g. /jobs/{job_id}/lineage. */
  template: string;
  pattern: RegExp;
  /** Request fields bound by the path, in the template's order; their values stay percent-encoded until transcoding. */
  pathFields: string[];
  /** Request fields a query parameter may set, by proto field name; a repeated one may be given several times. */
  queryFields: Map<string, QueryField>;
  /** Whether the request comes as a JSON body (google.api.http body "*"). */
  hasBody: boolean;
  /** A server-streaming method (WatchEvents): its messages are sent as server-sent events. */
  serverStreaming: boolean;
  /** What in a request's JSON does not fit the proto3 JSON mapping of the request message (JsonMapping). */
  check(json: Record<string, unknown>): FieldViolation[];
  /** How many fields the request's encoding holds at least, counted on its JSON up to just past limit (JsonMapping.fieldCountAtLeast). */
  fieldCountAtLeast(json: Record<string, unknown>, limit: number): number;
  request: JsonCodec;
  response: JsonCodec;
}

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'body';
  type?: string;
  enum?: string[];
  items?: { type?: string; enum?: string[] };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId: string; parameters?: OpenApiParameter[] }>>;
}

const SERVICE = 'provenance.v1.ProvenanceService';
const CODECS = { ...auditMessages, ...jobMessages, ...serviceMessages } as unknown as Record<string, JsonCodec | undefined>;

/**
 * The REST routes, read from the two documents generation makes from the
 * proto: the OpenAPI document (paths, parameters: from the google.api.http
 * options) and the descriptor set (each method's request and response
 * types). Nothing about the routes is written by hand.
 */
export function loadRestRoutes(openApiPath: string, descriptorSetPath: string): RestRoute[] {
  const document = JSON.parse(readFileSync(openApiPath, 'utf8')) as OpenApiDocument;
  const files = FileDescriptorSet.decode(readFileSync(descriptorSetPath)).file;
  const methods = methodTypes(files);
  const durations = new DurationMapping(files);
  const mapping = new JsonMapping(files);
  // Request and response codecs hold payloads and labels: a "__proto__" key must survive them as data.
  keepProtoKeysAsData();
  const routes: RestRoute[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const [httpMethod, operation] of Object.entries(operations)) {
      const types = methods.get(operation.operationId);
      if (!types) throw new Error(`the OpenAPI document names ${operation.operationId}, which ${SERVICE} does not have`);
      const parameters = operation.parameters ?? [];
      const pathFields = [...template.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((match) => match[1]!);
      routes.push({
        operationId: operation.operationId,
        grpcPath: `/${SERVICE}/${operation.operationId}`,
        httpMethod: httpMethod.toUpperCase(),
        template,
        pattern: templatePattern(template),
        pathFields,
        queryFields: new Map(parameters.filter((p) => p.in === 'query').map((p) => [p.name, queryField(p)])),
        hasBody: parameters.some((p) => p.in === 'body'),
        check: (json) => mapping.violations(types.input, json),
        fieldCountAtLeast: (json, limit) => mapping.fieldCountAtLeast(types.input, json, limit),
        serverStreaming: types.serverStreaming,
        request: codec(types.input),
        response: withCanonicalDurations(codec(types.output), types.output, durations),
      });
    }
  }
  return routes;
}

export type RouteMatch = { route: RestRoute; pathValues: Record<string, string> } | { allowed: string[] } | undefined;

/** The route of a request; or the methods the path allows when only the method is wrong; or undefined. */
export function matchRoute(routes: readonly RestRoute[], httpMethod: string, pathname: string): RouteMatch {
  const allowed: string[] = [];
  for (const route of routes) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    if (route.httpMethod !== httpMethod) {
      allowed.push(route.httpMethod);
      continue;
    }
    const pathValues: Record<string, string> = {};
    route.pathFields.forEach((field, i) => (pathValues[field] = match[i + 1]!));
    return { route, pathValues };
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

/** A path template as a regular expression: each {field} is one path segment (a job id may hold a colon, as in /jobs/a:b:cancel). */
function templatePattern(template: string): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${template.split(/\{[a-z_][a-z0-9_]*\}/).map(literal).join('([^/]+)')}$`);
}

function queryField(parameter: OpenApiParameter): QueryField {
  const repeated = parameter.type === 'array';
  const { type, enum: values } = repeated ? (parameter.items ?? {}) : parameter;
  const field: QueryField = { type: type === 'integer' || type === 'boolean' ? type : 'string', repeated };
  const prefix = values?.[0]?.match(/^(.*_)UNSPECIFIED$/)?.[1];
  return prefix ? { ...field, enumPrefix: prefix } : field;
}

/** The codec, writing Durations as the proto3 JSON mapping does. */
function withCanonicalDurations(codec: JsonCodec, typeName: string, durations: DurationMapping): JsonCodec {
  return { ...codec, toJSON: (message) => durations.canonical(typeName, codec.toJSON(message)) };
}

function codec(typeName: string): JsonCodec {
  const found = CODECS[typeName.slice(typeName.lastIndexOf('.') + 1)];
  if (!found) throw new Error(`no generated code for ${typeName}`);
  return found;
}

interface MethodTypes {
  input: string;
  output: string;
  serverStreaming: boolean;
}

/** Request and response type names of every method of the service, from the descriptor set. */
function methodTypes(files: readonly FileDescriptorProto[]): Map<string, MethodTypes> {
  const methods = new Map<string, MethodTypes>();
  for (const file of files) {
    for (const service of file.service) {
      if (`${file.package}.${service.name}` !== SERVICE) continue;
      for (const method of service.method) {
        methods.set(method.name!, {
          input: method.inputType!,
          output: method.outputType!,
          serverStreaming: method.serverStreaming ?? false,
        });
      }
    }
  }
  return methods;
}
