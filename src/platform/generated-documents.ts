import { fileURLToPath } from 'node:url';

/** The documents `npm run generate` makes from the proto, where the build puts them beside the compiled code. */
export const DESCRIPTOR_SET_PATH = fileURLToPath(new URL('../gen/provenance.binpb', import.meta.url));
export const OPENAPI_DOCUMENT_PATH = fileURLToPath(new URL('../gen/openapi/provenance.swagger.json', import.meta.url));
