#!/usr/bin/env node
// The last step of `npm run generate` for the OpenAPI document: what Debian's
// protoc-gen-swagger (grpc-gateway 1.6) writes, and none of its proto options
// can express, put right so that a generator makes a client that works.
// Deterministic: the same input always gives the same bytes (the generation
// test runs it too). Usage: node scripts/finish-openapi.mjs <swagger.json>
import { readFileSync, writeFileSync } from 'node:fs';

/** protoc-gen-swagger marks a server-streaming method's answer so; its REST twin streams server-sent events. */
const STREAMING_MARK = '(streaming responses)';

const [path] = process.argv.slice(2);
if (!path) throw new Error('usage: finish-openapi.mjs <swagger.json>');
const document = JSON.parse(readFileSync(path, 'utf8'));

for (const operations of Object.values(document.paths)) {
  for (const operation of Object.values(operations)) {
    // The gateway takes a repeated field as its parameter repeated (job_ids=a&job_ids=b); Swagger's default, csv, sends "a,b".
    for (const parameter of operation.parameters ?? []) {
      if (parameter.in === 'query' && parameter.type === 'array') parameter.collectionFormat = 'multi';
    }
    const ok = operation.responses['200'];
    if (ok?.description.endsWith(STREAMING_MARK)) {
      operation.produces = ['text/event-stream'];
      ok.description =
        'Server-sent events (text/event-stream), once the subscription is registered: each event\'s `id` is its cursor and its `data` the JSON of the schema below; a stream the server ends with an error gets a last `event: error` whose data is the error body.';
    }
  }
}

// An Any in the proto3 JSON mapping is the message's own fields beside its "@type", not typeUrl and base64 value.
document.definitions.protobufAny = {
  type: 'object',
  description: 'A protobuf Any in the JSON mapping: "@type" names the message type, and the fields of that message follow.',
  properties: { '@type': { type: 'string', description: 'type.googleapis.com/ and the full name of the message type, e.g. type.googleapis.com/google.rpc.ErrorInfo.' } },
  additionalProperties: {},
};

writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
