import { createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config-error.js';
import { integer, type Read } from '../config/values.js';
import { parseApiKeys, type ApiKeyEntry } from './api-keys.js';
import type { JwtConfig, JwtKeys, PublicVerificationKey } from './bearer-tokens.js';

/**
 * What the server needs for TLS, shaped for grpc-js:
 * `ServerCredentials.createSsl(clientCertificateAuthority ?? null,
 * [{ private_key: privateKey, cert_chain: certificateChain }],
 * clientCertificateAuthority !== undefined)`.
 */
export interface TlsConfig {
  /** PEM, the server's certificate first, then any intermediates. */
  certificateChain: Buffer;
  /** PEM, unencrypted; it matches the first certificate of the chain. */
  privateKey: Buffer;
  /** PEM bundle. When set, every client must present a certificate it verifies, and that certificate identifies the caller. */
  clientCertificateAuthority?: Buffer;
}

/** Holds secrets and key material: never log it. */
export interface AuthConfig {
  jwt?: JwtConfig;
  apiKeys?: readonly ApiKeyEntry[];
  /** Absent: plaintext. Without a client CA it is server TLS only, which identifies no caller. */
  tls?: TlsConfig;
}

const MIN_HMAC_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;
const MAX_CLOCK_SKEW_S = 3600;

/** Reads the authentication variables (docs/configuration.md lists them), and the files they name, once at start. */
export function loadAuthConfig(read: Read): AuthConfig {
  const config: AuthConfig = {};
  const jwt = jwtConfig(read);
  if (jwt) config.jwt = jwt;
  const apiKeysFile = read('PROVENANCE_API_KEYS_FILE');
  if (apiKeysFile !== undefined) config.apiKeys = apiKeys(apiKeysFile);
  const tls = tlsConfig(read);
  if (tls) config.tls = tls;
  return config;
}

/** Whether any method identifies callers (server TLS alone does not). */
export function isAuthenticationConfigured(config: AuthConfig): boolean {
  return config.jwt !== undefined || config.apiKeys !== undefined || config.tls?.clientCertificateAuthority !== undefined;
}

function jwtConfig(read: Read): JwtConfig | undefined {
  const keys = jwtKeys(read);
  if (!keys) {
    const stray = ['PROVENANCE_JWT_ISSUER', 'PROVENANCE_JWT_AUDIENCE', 'PROVENANCE_JWT_CLOCK_SKEW_S', 'PROVENANCE_JWT_TENANT_CLAIM', 'PROVENANCE_JWT_ROLES_CLAIM'].find(
      (name) => read(name) !== undefined,
    );
    if (stray) throw new ConfigError(stray, 'is set, but no JWT key is: set PROVENANCE_JWT_SECRET or PROVENANCE_JWT_PUBLIC_KEY_FILE');
    return undefined;
  }
  const required = (name: string): string => {
    const value = read(name);
    if (value === undefined) throw new ConfigError(name, 'required when JWT authentication is configured');
    return value;
  };
  return {
    ...keys,
    issuer: required('PROVENANCE_JWT_ISSUER'),
    audience: required('PROVENANCE_JWT_AUDIENCE'),
    clockSkewSeconds: integer(read, 'PROVENANCE_JWT_CLOCK_SKEW_S', 30, 0, MAX_CLOCK_SKEW_S),
    tenantClaim: read('PROVENANCE_JWT_TENANT_CLAIM') ?? 'tenant',
    rolesClaim: read('PROVENANCE_JWT_ROLES_CLAIM') ?? 'roles',
  };
}

function jwtKeys(read: Read): JwtKeys | undefined {
  const secret = read('PROVENANCE_JWT_SECRET');
  const publicKeyFile = read('PROVENANCE_JWT_PUBLIC_KEY_FILE');
  const hmacSecret = secret === undefined ? undefined : hmacKey('PROVENANCE_JWT_SECRET', secret);
  const publicKey = publicKeyFile === undefined ? undefined : verificationKey('PROVENANCE_JWT_PUBLIC_KEY_FILE', publicKeyFile);
  if (hmacSecret && publicKey) return { hmacSecret, publicKey };
  if (hmacSecret) return { hmacSecret };
  if (publicKey) return { publicKey };
  return undefined;
}

function hmacKey(name: string, secret: string): KeyObject {
  const bytes = Buffer.from(secret, 'utf8');
  if (bytes.length < MIN_HMAC_SECRET_BYTES) {
    throw new ConfigError(name, `must be at least ${MIN_HMAC_SECRET_BYTES} bytes (e.g. the output of "openssl rand -base64 48"), got ${bytes.length}`);
  }
  return createSecretKey(bytes);
}

/** The algorithm follows the key: RSA is RS256, EC P-256 is ES256, and nothing else is accepted. */
function verificationKey(name: string, path: string): PublicVerificationKey {
  const pem = readFile(name, path).toString('utf8');
  // createPublicKey would also take a private key or a certificate; the issuer's private key has no business here.
  if (!/^-----BEGIN PUBLIC KEY-----/m.test(pem)) throw new ConfigError(name, `"${path}" must hold a PEM public key ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo)`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new ConfigError(name, `"${path}" is not a readable PEM public key (${(error as Error).message})`);
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < MIN_RSA_BITS) throw new ConfigError(name, `the RSA key in "${path}" must have at least ${MIN_RSA_BITS} bits, has ${details?.modulusLength}`);
    return { algorithm: 'RS256', key };
  }
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return { algorithm: 'ES256', key };
  const kind = key.asymmetricKeyType === 'ec' ? `an EC key on curve ${details?.namedCurve}` : `a key of type ${key.asymmetricKeyType}`;
  throw new ConfigError(name, `"${path}" must hold an RSA key (RS256) or an EC P-256 key (ES256), holds ${kind}`);
}


function apiKeys(path: string): ApiKeyEntry[] {
  const name = 'PROVENANCE_API_KEYS_FILE';
  const text = readFile(name, path).toString('utf8');
  try {
    return parseApiKeys(text);
  } catch (error) {
    throw new ConfigError(name, `"${path}" ${(error as Error).message}`);
  }
}

function tlsConfig(read: Read): TlsConfig | undefined {
  const certificateFile = read('PROVENANCE_TLS_CERT_FILE');
  const keyFile = read('PROVENANCE_TLS_KEY_FILE');
  const clientCaFile = read('PROVENANCE_TLS_CLIENT_CA_FILE');
  if (certificateFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) throw new ConfigError('PROVENANCE_TLS_CLIENT_CA_FILE', 'needs server TLS: set PROVENANCE_TLS_CERT_FILE and PROVENANCE_TLS_KEY_FILE too');
    return undefined;
  }
  if (certificateFile === undefined) throw new ConfigError('PROVENANCE_TLS_CERT_FILE', 'required when PROVENANCE_TLS_KEY_FILE is set');
  if (keyFile === undefined) throw new ConfigError('PROVENANCE_TLS_KEY_FILE', 'required when PROVENANCE_TLS_CERT_FILE is set');

  const certificateChain = readFile('PROVENANCE_TLS_CERT_FILE', certificateFile);
  const [serverCertificate] = certificates('PROVENANCE_TLS_CERT_FILE', certificateFile, certificateChain);
  const privateKey = readFile('PROVENANCE_TLS_KEY_FILE', keyFile);
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch (error) {
    throw new ConfigError('PROVENANCE_TLS_KEY_FILE', `"${keyFile}" is not an unencrypted PEM private key (${(error as Error).message})`);
  }
  if (!serverCertificate.checkPrivateKey(key)) {
    throw new ConfigError('PROVENANCE_TLS_KEY_FILE', `"${keyFile}" is not the key of the certificate in PROVENANCE_TLS_CERT_FILE ("${certificateFile}")`);
  }
  const tls: TlsConfig = { certificateChain, privateKey };
  if (clientCaFile !== undefined) {
    tls.clientCertificateAuthority = readFile('PROVENANCE_TLS_CLIENT_CA_FILE', clientCaFile);
    certificates('PROVENANCE_TLS_CLIENT_CA_FILE', clientCaFile, tls.clientCertificateAuthority);
  }
  return tls;
}

/** Every PEM certificate of a file, at least one, each parsed so that a damaged file stops the start. */
function certificates(name: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(name, `"${path}" holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(name, `certificate ${index} of "${path}" cannot be parsed (${(error as Error).message})`);
    }
  });
}

function readFile(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(name, `cannot read "${path}" (${code ?? (error as Error).message})`);
  }
}
