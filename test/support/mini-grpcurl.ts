import { readFileSync } from 'node:fs';
import { Client, credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescMessage, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { AnySchema, FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { Status } from '@provenance/client/gen/google/rpc/status';

/**
 * What grpcurl does, with nothing but server reflection: list services,
 * fetch the descriptors of a symbol and every file it imports, and call a
 * method with a JSON body. If grpcurl would fail (an import the server does
 * not serve, a type it cannot resolve), this fails the same way. With a
 * protoset (grpcurl -protoset), the descriptors come from that file instead,
 * and reflection is not used.
 */
export class MiniGrpcurl {
  private readonly client: Client;
  private readonly reflection: { request: DescMessage; response: DescMessage };
  private readonly protoset: FileRegistry | undefined;

  /** channelCredentials: -plaintext by default; TLS credentials for -cacert, -cert and -key. protosetPath: grpcurl's -protoset. */
  constructor(
    private readonly address: string,
    private readonly channelCredentials: ChannelCredentials = credentials.createInsecure(),
    protosetPath?: string,
  ) {
    this.client = new Client(address, channelCredentials);
    this.protoset = protosetPath ? createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(protosetPath))) : undefined;
    // The reflection protocol's own messages, from the descriptor set `npm run generate` builds.
    const local = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(new URL('../../../src/gen/provenance.binpb', import.meta.url))));
    this.reflection = {
      request: local.getMessage('grpc.reflection.v1.ServerReflectionRequest')!,
      response: local.getMessage('grpc.reflection.v1.ServerReflectionResponse')!,
    };
  }

  close(): void {
    this.client.close();
  }

  /** The same grpcurl given `-protoset protosetPath`: to the same server, with the same credentials. */
  withProtoset(protosetPath: string): MiniGrpcurl {
    return new MiniGrpcurl(this.address, this.channelCredentials, protosetPath);
  }

  /** `grpcurl list` */
  async list(): Promise<string[]> {
    const [response] = await this.reflect([{ listServices: '' }]);
    return (response!.listServicesResponse as { service: Array<{ name: string }> }).service.map((s) => s.name).sort();
  }

  /** The files that define a symbol, with every import resolved through reflection (`grpcurl describe`). */
  async describe(symbol: string): Promise<{ registry: FileRegistry; files: FileDescriptorProto[] }> {
    const files = new Map<string, FileDescriptorProto>();
    let wanted: Array<Record<string, string>> = [{ fileContainingSymbol: symbol }];
    while (wanted.length > 0) {
      for (const response of await this.reflect(wanted)) {
        if (response.errorResponse) throw new Error(`reflection error: ${JSON.stringify(response.errorResponse)}`);
        for (const encoded of (response.fileDescriptorResponse as { fileDescriptorProto: string[] }).fileDescriptorProto) {
          const file = fromBinary(FileDescriptorProtoSchema, Buffer.from(encoded, 'base64'));
          files.set(file.name, file);
        }
      }
      const missing = new Set([...files.values()].flatMap((f) => f.dependency).filter((name) => !files.has(name)));
      wanted = [...missing].map((name) => ({ fileByFilename: name }));
    }
    return { registry: createFileRegistry(create(FileDescriptorSetSchema, { file: dependenciesFirst(files) })), files: [...files.values()] };
  }

  /** The descriptors grpcurl resolves a symbol with: the protoset's, or the server's through reflection. */
  private async registryOf(symbol: string): Promise<FileRegistry> {
    return this.protoset ?? (await this.describe(symbol)).registry;
  }

  /**
   * What grpcurl prints on stderr for a call that fails (its PrintStatus):
   * the code, the message, and each detail as JSON, decoded with the
   * descriptors it has; a detail whose type it cannot resolve is printed as
   * its bytes in base64.
   */
  async printedError(error: ServiceError): Promise<string> {
    const lines = ['ERROR:', `  Code: ${GO_CODE_NAMES[error.code]}`, `  Message: ${error.details}`];
    const [encoded] = error.metadata?.get('grpc-status-details-bin') ?? [];
    const details = Buffer.isBuffer(encoded) ? Status.decode(encoded).details : [];
    if (details.length > 0) lines.push('  Details:');
    for (const [i, detail] of details.entries()) {
      const typeName = detail.typeUrl.slice(detail.typeUrl.lastIndexOf('/') + 1);
      let json: JsonValue;
      try {
        // The proto3 JSON mapping of an Any: "@type" and the fields of the message it holds; throws when the type is unknown.
        const fields = toJson(AnySchema, create(AnySchema, { typeUrl: detail.typeUrl, value: detail.value }), { registry: await this.registryOf(typeName) }) as Record<string, JsonValue>;
        // grpcurl writes "@type" first.
        json = { '@type': detail.typeUrl, ...fields };
      } catch {
        json = { '@type': detail.typeUrl, '@value': Buffer.from(detail.value).toString('base64') };
      }
      const prefix = `  ${i + 1})`;
      const [first, ...rest] = JSON.stringify(json, null, 2).split('\n');
      lines.push(`${prefix}\t${first}`, ...rest.map((line) => `${' '.repeat(prefix.length)}\t${line}`));
    }
    return `${lines.join('\n')}\n`;
  }

  /** `grpcurl -d '<json>' <address> <service>/<method>` */
  async call(fullMethod: string, body: JsonValue, metadata?: Metadata): Promise<JsonValue> {
    const [service, method] = fullMethod.split('/') as [string, string];
    const registry = await this.registryOf(service);
    const descriptor = registry.getService(service)?.methods.find((m) => m.name === method);
    if (!descriptor) throw new Error(`${service} has no method ${method}`);
    const request = toBinary(descriptor.input, fromJson(descriptor.input, body, { registry }));
    const response = await new Promise<Buffer>((resolve, reject) =>
      this.client.makeUnaryRequest(
        `/${service}/${method}`,
        (bytes: Uint8Array) => Buffer.from(bytes),
        (bytes: Buffer) => bytes,
        request,
        metadata ?? new Metadata(),
        (error, value) => (error ? reject(error) : resolve(value!)),
      ),
    );
    return toJson(descriptor.output, fromBinary(descriptor.output, response), { registry });
  }

  /** `grpcurl -d '<json>' <address> <service>/<method>` on a server-streaming method: the messages arrive in messages until close(). */
  async stream(fullMethod: string, body: JsonValue): Promise<{ messages: JsonValue[]; close(): void }> {
    const [service, method] = fullMethod.split('/') as [string, string];
    const registry = await this.registryOf(service);
    const descriptor = registry.getService(service)?.methods.find((m) => m.name === method);
    if (!descriptor) throw new Error(`${service} has no method ${method}`);
    const call = this.client.makeServerStreamRequest(
      `/${service}/${method}`,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => toJson(descriptor.output, fromBinary(descriptor.output, bytes), { registry }),
      toBinary(descriptor.input, fromJson(descriptor.input, body, { registry })),
    );
    const messages: JsonValue[] = [];
    call.on('data', (message: JsonValue) => messages.push(message));
    call.on('error', () => undefined);
    return { messages, close: () => call.cancel() };
  }

  private reflect(requests: Array<Record<string, string>>): Promise<Array<Record<string, unknown>>> {
    const { request: requestDesc, response: responseDesc } = this.reflection;
    return new Promise((resolve, reject) => {
      const stream = this.client.makeBidiStreamRequest(
        '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
        (message: Record<string, string>) => Buffer.from(toBinary(requestDesc, fromJson(requestDesc, message))),
        (bytes: Buffer) => toJson(responseDesc, fromBinary(responseDesc, bytes)) as Record<string, unknown>,
      );
      const responses: Array<Record<string, unknown>> = [];
      stream.on('data', (response: Record<string, unknown>) => {
        responses.push(response);
        if (responses.length === requests.length) stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(responses));
      for (const request of requests) stream.write(request);
    });
  }
}

/** grpc-go's names of the status codes (codes.Code.String()), as grpcurl prints them. */
const GO_CODE_NAMES: Record<number, string> = {
  [status.OK]: 'OK',
  [status.CANCELLED]: 'Canceled',
  [status.UNKNOWN]: 'Unknown',
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.PERMISSION_DENIED]: 'PermissionDenied',
  [status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [status.ABORTED]: 'Aborted',
  [status.OUT_OF_RANGE]: 'OutOfRange',
  [status.UNIMPLEMENTED]: 'Unimplemented',
  [status.INTERNAL]: 'Internal',
  [status.UNAVAILABLE]: 'Unavailable',
  [status.DATA_LOSS]: 'DataLoss',
  [status.UNAUTHENTICATED]: 'Unauthenticated',
};

/** The files ordered so that each comes after the files it imports, as a registry is built. */
function dependenciesFirst(files: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const place = (file: FileDescriptorProto) => {
    if (placed.has(file.name)) return;
    placed.add(file.name);
    for (const dependency of file.dependency) place(files.get(dependency)!);
    ordered.push(file);
  };
  for (const file of files.values()) place(file);
  return ordered;
}
