import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import { Metadata } from '@grpc/grpc-js';
import { expect } from 'chai';
import { SignJWT, type JWTPayload } from 'jose';
import { AuthenticationFailed, type Authenticator, type CallCredentials } from '../../src/auth/authenticator.js';

const run = promisify(execFile);

/** A folder of its own under the system temp folder, removed with everything in it by remove(). */
export interface TemporaryDirectory {
  path: string;
  /** Writes a file (mode 0600) and resolves with its path. */
  write(name: string, content: string | Buffer): Promise<string>;
  remove(): Promise<void>;
}

export async function makeTemporaryDirectory(prefix = 'provenance-credentials-'): Promise<TemporaryDirectory> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async write(name, content) {
      const file = join(path, name);
      await writeFile(file, content, { mode: 0o600 });
      return file;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** A PEM certificate and its unencrypted PKCS#8 key, as files and as text. */
export interface CertificateFiles {
  certificatePath: string;
  certificatePem: string;
  keyPath: string;
  keyPem: string;
}

/** A self-signed CA in a temporary folder; the certificates it issues go in the same folder, and remove() deletes them all. */
export interface CertificateAuthority extends CertificateFiles {
  directory: TemporaryDirectory;
  remove(): Promise<void>;
}

export interface CertificateSubject {
  commonName: string;
  organization?: string;
  /** One OU attribute each, in this order. */
  organizationalUnits?: readonly string[];
  /** Makes a server certificate for these DNS names and IP addresses; without it the certificate is for a client. */
  server?: readonly string[];
}

/** Makes a CA (EC P-256, valid for two days) with the openssl CLI. */
export async function makeCertificateAuthority(commonName = 'Provenance Test CA'): Promise<CertificateAuthority> {
  const directory = await makeTemporaryDirectory();
  try {
    const config = await directory.write('ca.cnf', extensionsConfig('basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash'));
    const keyPath = join(directory.path, 'ca.key');
    const certificatePath = join(directory.path, 'ca.pem');
    await openssl(['req', '-x509', '-new', ...EC_KEY, '-nodes', '-keyout', keyPath, '-out', certificatePath, '-days', '2', '-subj', distinguishedName({ commonName }), '-config', config, '-extensions', 'leaf']);
    return { directory, remove: () => directory.remove(), ...(await readPair(certificatePath, keyPath)) };
  } catch (error) {
    await directory.remove();
    throw error;
  }
}

let issued = 0;

/** Issues a certificate signed by ca (EC P-256, valid for two days), with the subject and purpose asked for. */
export async function issueCertificate(ca: CertificateAuthority, subject: CertificateSubject): Promise<CertificateFiles> {
  const name = `leaf-${++issued}`;
  const extensions = ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', 'authorityKeyIdentifier = keyid'];
  if (subject.server) {
    extensions.push('extendedKeyUsage = serverAuth');
    const names = subject.server.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`));
    if (names.length > 0) extensions.push(`subjectAltName = ${names.join(', ')}`);
  } else {
    extensions.push('extendedKeyUsage = clientAuth');
  }
  const config = await ca.directory.write(`${name}.cnf`, extensionsConfig(extensions.join('\n')));
  const keyPath = join(ca.directory.path, `${name}.key`);
  const requestPath = join(ca.directory.path, `${name}.csr`);
  const certificatePath = join(ca.directory.path, `${name}.pem`);
  await openssl(['req', '-new', ...EC_KEY, '-nodes', '-keyout', keyPath, '-out', requestPath, '-subj', distinguishedName(subject), '-config', config]);
  await openssl([
    'x509', '-req', '-in', requestPath, '-CA', ca.certificatePath, '-CAkey', ca.keyPath, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', '2', '-sha256', '-extfile', config, '-extensions', 'leaf', '-out', certificatePath,
  ]);
  return readPair(certificatePath, keyPath);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

/** A config of its own, so the machine's openssl.cnf adds no extension of its own. */
function extensionsConfig(leaf: string): string {
  return `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n[leaf]\n${leaf}\n`;
}

/** The -subj form, "/CN=.../O=.../OU=...", with the characters it gives meaning to escaped. */
function distinguishedName({ commonName, organization, organizationalUnits = [] }: CertificateSubject): string {
  const escape = (value: string): string => value.replace(/[\\/+=]/g, '\\$&');
  const parts = [`CN=${escape(commonName)}`];
  if (organization !== undefined) parts.push(`O=${escape(organization)}`);
  for (const unit of organizationalUnits) parts.push(`OU=${escape(unit)}`);
  return `/${parts.join('/')}`;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${stderr?.trim() || (error as Error).message}`);
  }
}

async function readPair(certificatePath: string, keyPath: string): Promise<CertificateFiles> {
  return { certificatePath, certificatePem: await readFile(certificatePath, 'utf8'), keyPath, keyPem: await readFile(keyPath, 'utf8') };
}

/** An asymmetric signing key and its public half as a PEM SPKI, the form PROVENANCE_JWT_PUBLIC_KEY_FILE holds. */
export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKeyPem: string;
}

export function makeRsaKeyPair(modulusLength = 2048): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function makeEcKeyPair(namedCurve = 'prime256v1'): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A random HS256 secret of 48 bytes, as base64 text (what PROVENANCE_JWT_SECRET holds). */
export function makeHmacSecret(): string {
  return randomBytes(48).toString('base64');
}

/**
 * A signed compact JWT with exactly these claims (no defaults added). A
 * string key is an HMAC secret, used as its UTF-8 bytes, as the server does.
 */
export function signToken(claims: JWTPayload, algorithm: 'HS256' | 'RS256' | 'ES256', key: KeyObject | string | Uint8Array): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: algorithm, typ: 'JWT' }).sign(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
}

/** An `alg: none` JWT: the header, the claims and an empty signature, as an attacker would write it. */
export function unsecuredToken(claims: JWTPayload): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** The lowercase hex SHA-256 of a key: what the API keys file stores instead of the key. */
export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A random API key as a client would hold it. */
export function makeApiKey(): string {
  return `pk_${randomBytes(24).toString('base64url')}`;
}

/**
 * Runs a real mutual TLS handshake on loopback (a node:tls server that
 * requires a client certificate verified by ca; server must be valid for
 * "localhost") and resolves with the client certificate as the server sees
 * it: what grpc-js hands on as `getAuthContext().sslPeerCertificate`. Rejects
 * if either side refuses the handshake.
 */
export async function verifiedPeerCertificate(ca: CertificateFiles, server: CertificateFiles, client: CertificateFiles): Promise<PeerCertificate> {
  const tlsServer = createServer({ key: server.keyPem, cert: server.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: true });
  let fail: (error: Error) => void = () => {};
  const seen = new Promise<PeerCertificate>((resolve, reject) => {
    fail = reject;
    tlsServer.once('secureConnection', (socket) => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    tlsServer.once('tlsClientError', reject);
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const address = tlsServer.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certificatePem, cert: client.certificatePem, key: client.keyPem });
  socket.on('error', (error) => fail(error));
  try {
    return await seen;
  } finally {
    socket.destroy();
    await new Promise((resolve) => tlsServer.close(resolve));
  }
}

/** Call metadata with these headers (an array sends a header several times). */
export function metadataWith(headers: Record<string, string | readonly string[]> = {}): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) {
    for (const item of typeof value === 'string' ? [value] : value) metadata.add(key, item);
  }
  return metadata;
}

/** The log message of the AuthenticationFailed that authenticate() rejects with; fails the test if it resolves or rejects otherwise. */
export async function authenticationRefusal(authenticator: Authenticator, credentials: CallCredentials): Promise<string> {
  let principal;
  try {
    principal = await authenticator.authenticate(credentials);
  } catch (error) {
    expect(error).to.be.instanceOf(AuthenticationFailed);
    return (error as AuthenticationFailed).message;
  }
  throw new Error(`expected the credentials to be refused, got ${JSON.stringify(principal)}`);
}
