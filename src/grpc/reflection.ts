import { readFileSync } from 'node:fs';
import { ReflectionService } from '@grpc/reflection';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/**
 * Server reflection (v1 and v1alpha) from the descriptor set `buf build`
 * wrote (npm run generate). The FileDescriptorProto bytes are passed through
 * untouched: descriptors rebuilt by proto-loader lose comments and import
 * lists, and grpcurl then cannot resolve google.protobuf types.
 */
export function createReflection(descriptorSetPath: string): ReflectionService {
  const fileDescriptorProtos = fileDescriptorsOf(readFileSync(descriptorSetPath));
  const definition = { provenance: { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos } };
  return new ReflectionService(definition as unknown as ConstructorParameters<typeof ReflectionService>[0]);
}

/** The raw bytes of each FileDescriptorSet.file (field 1). */
function fileDescriptorsOf(descriptorSet: Uint8Array): Buffer[] {
  const reader = new BinaryReader(descriptorSet);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  return files;
}
