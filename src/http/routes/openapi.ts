import { readFileSync } from 'node:fs';
import { OPENAPI_DOCUMENT_PATH } from '../../platform/generated-documents.js';
import type { Route } from '../server.js';

/** /openapi.json: the OpenAPI (2.0) document of the REST twins, as generation wrote it from the proto. */
export function openApiRoute(): Route {
  const body = readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8');
  return { method: 'GET', path: '/openapi.json', handle: async () => ({ status: 200, contentType: 'application/json', body }) };
}
