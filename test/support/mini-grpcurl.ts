import { readFileSync } from 'node:fs';
import { Client, credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescMessage, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/**
 * What grpcurl does, with nothing but server reflection: list services,
 * fetch the descriptors of a symbol and every file it imports, and call a
 * method with a JSON body. If grpcurl would fail (an import the server does
 * not serve, a type it cannot resolve), this fails the same way.
 */
export class MiniGrpcurl {
  private readonly client: Client;
  private readonly reflection: { request: DescMessage; response: DescMessage };

  /** channelCredentials: -plaintext by default; TLS credentials for -cacert, -cert and -key. */
  constructor(address: string, channelCredentials: ChannelCredentials = credentials.createInsecure()) {
    this.client = new Client(address, channelCredentials);
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

  /** `grpcurl -d '<json>' <address> <service>/<method>` */
  async call(fullMethod: string, body: JsonValue, metadata?: Metadata): Promise<JsonValue> {
    const [service, method] = fullMethod.split('/') as [string, string];
    const { registry } = await this.describe(service);
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
    const { registry } = await this.describe(service);
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
