import { splitAddress } from '../../platform/address.js';
import type { TlsConfig } from '../../auth/auth-config.js';
import { DESCRIPTOR_SET_PATH, OPENAPI_DOCUMENT_PATH } from '../../platform/generated-documents.js';
import { RestGateway, type RestGatewayOptions } from '../rest/rest-gateway.js';
import { loadRestRoutes } from '../rest/rest-routes.js';

/**
 * The REST gateway of this process: its routes from the generated documents,
 * its channel to the process's own gRPC listener (bound at grpcAddress) on
 * loopback, over TLS when the listener has TLS. The gateway dials its own
 * listener, so the certificate is not checked. A listener that requires
 * client certificates is out of reach (REST calls carry bearer tokens or API
 * keys, not certificates): REST calls are then refused with UNIMPLEMENTED.
 */
export function restGateway(
  grpcAddress: string,
  tls: TlsConfig | undefined,
  settings: Pick<RestGatewayOptions, 'maxMessageBytes' | 'maxRequestFields' | 'maxBodyBytes' | 'timeoutMs' | 'logger' | 'authentication' | 'gatewayToken'>,
): RestGateway {
  const { host, port } = splitAddress(grpcAddress);
  const loopback = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return new RestGateway({
    routes: loadRestRoutes(OPENAPI_DOCUMENT_PATH, DESCRIPTOR_SET_PATH),
    grpcTarget: `${loopback}:${port}`,
    tls: tls !== undefined,
    ...settings,
    ...(tls?.clientCertificateAuthority
      ? { refusal: 'REST calls are not served when the gRPC listener requires client certificates (PROVENANCE_TLS_CLIENT_CA_FILE): call the gRPC method' }
      : {}),
  });
}
