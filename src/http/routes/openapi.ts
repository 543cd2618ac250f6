import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Route } from '../server.js';

export const OPENAPI_DOCUMENT = fileURLToPath(new URL('../../gen/openapi/provenance.swagger.json', import.meta.url));

/** /openapi.json: the OpenAPI (2.0) document of the REST twins, as generation wrote it from the proto. */
export function openApiRoute(): Route {
  const body = readFileSync(OPENAPI_DOCUMENT, 'utf8');
  return { method: 'GET', path: '/openapi.json', handle: async () => ({ status: 200, contentType: 'application/json', body }) };
}
