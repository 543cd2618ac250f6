import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { isAuthenticationConfigured, loadAuthConfig, type AuthConfig } from '../../src/auth/auth-config.js';
import { createAuthenticator } from '../../src/auth/authenticator.js';
import { ConfigError } from '../../src/config/config.js';
import {
  issueCertificate,
  makeApiKey,
  makeCertificateAuthority,
  makeEcKeyPair,
  makeHmacSecret,
  makeRsaKeyPair,
  sha256Hex,
  type CertificateAuthority,
  type CertificateFiles,
} from '../support/credentials.js';

function load(env: Record<string, string>): AuthConfig {
  return loadAuthConfig((name) => env[name]);
}

/** The ConfigError message; fails unless it names the expected variable. */
function refusal(env: Record<string, string>, variable: string): string {
  try {
    load(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).variable).to.equal(variable);
    return (error as ConfigError).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('authentication configuration', () => {
  let ca: CertificateAuthority;
  let server: CertificateFiles;
  let otherServer: CertificateFiles;
  const file = (name: string, content: string): Promise<string> => ca.directory.write(name, content);

  before(async () => {
    ca = await makeCertificateAuthority();
    server = await issueCertificate(ca, { commonName: 'provenance', server: ['localhost', '127.0.0.1'] });
    otherServer = await issueCertificate(ca, { commonName: 'other', server: ['localhost'] });
  });

  after(() => ca.remove());

  it('configures nothing when no variable is set', () => {
    const config = load({});
    expect(config).to.deep.equal({});
    expect(isAuthenticationConfigured(config)).to.equal(false);
    expect(createAuthenticator(config)).to.equal(undefined);
  });

  describe('JWT', () => {
    const secret = makeHmacSecret();
    const required = { PROVENANCE_JWT_ISSUER: 'https://issuer.example', PROVENANCE_JWT_AUDIENCE: 'provenance' };

    it('has the documented defaults', () => {
      const { jwt } = load({ PROVENANCE_JWT_SECRET: secret, ...required });
      expect(jwt).to.deep.include({ issuer: 'https://issuer.example', audience: 'provenance', clockSkewSeconds: 30, tenantClaim: 'tenant', rolesClaim: 'roles' });
      expect(jwt?.hmacSecret?.export().toString('utf8')).to.equal(secret);
      expect(jwt?.publicKey).to.equal(undefined);
      expect(isAuthenticationConfigured(load({ PROVENANCE_JWT_SECRET: secret, ...required }))).to.equal(true);
    });

    it('takes the algorithm from the public key type', async () => {
      const rsaFile = await file('jwt-rsa.pem', makeRsaKeyPair().publicKeyPem);
      const ecFile = await file('jwt-ec.pem', makeEcKeyPair().publicKeyPem);
      expect(load({ PROVENANCE_JWT_PUBLIC_KEY_FILE: rsaFile, ...required }).jwt?.publicKey?.algorithm).to.equal('RS256');
      expect(load({ PROVENANCE_JWT_PUBLIC_KEY_FILE: ecFile, ...required }).jwt?.publicKey?.algorithm).to.equal('ES256');
      const both = load({ PROVENANCE_JWT_PUBLIC_KEY_FILE: ecFile, PROVENANCE_JWT_SECRET: secret, ...required }).jwt;
      expect([both?.publicKey?.algorithm, both?.hmacSecret?.type]).to.deep.equal(['ES256', 'secret']);
    });

    it('refuses a secret shorter than 32 bytes', () => {
      expect(refusal({ PROVENANCE_JWT_SECRET: 'x'.repeat(31), ...required }, 'PROVENANCE_JWT_SECRET')).to.match(/^PROVENANCE_JWT_SECRET: must be at least 32 bytes .*got 31$/);
      expect(load({ PROVENANCE_JWT_SECRET: 'x'.repeat(32), ...required }).jwt).to.not.equal(undefined);
    });

    it('requires the issuer and the audience', () => {
      expect(refusal({ PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_AUDIENCE: 'a' }, 'PROVENANCE_JWT_ISSUER')).to.equal('PROVENANCE_JWT_ISSUER: required when JWT authentication is configured');
      expect(refusal({ PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_ISSUER: 'i' }, 'PROVENANCE_JWT_AUDIENCE')).to.equal('PROVENANCE_JWT_AUDIENCE: required when JWT authentication is configured');
    });

    it('refuses JWT settings without a key, so that a forgotten key cannot leave JWTs silently off', () => {
      expect(refusal(required, 'PROVENANCE_JWT_ISSUER')).to.match(/is set, but no JWT key is/);
      expect(refusal({ PROVENANCE_JWT_ROLES_CLAIM: 'scope' }, 'PROVENANCE_JWT_ROLES_CLAIM')).to.match(/is set, but no JWT key is/);
    });

    it('checks the clock skew', () => {
      expect(load({ PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_CLOCK_SKEW_S: '5', ...required }).jwt?.clockSkewSeconds).to.equal(5);
      expect(refusal({ PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_CLOCK_SKEW_S: '-1', ...required }, 'PROVENANCE_JWT_CLOCK_SKEW_S')).to.match(/must be a whole number/);
      expect(refusal({ PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_CLOCK_SKEW_S: '3601', ...required }, 'PROVENANCE_JWT_CLOCK_SKEW_S')).to.match(/must be between 0 and 3600/);
    });

    it('refuses a public key file that is missing, not a public key, or of a key type without a JWS algorithm here', async () => {
      const variable = 'PROVENANCE_JWT_PUBLIC_KEY_FILE';
      const refusalFor = (path: string) => refusal({ [variable]: path, ...required }, variable);
      expect(refusalFor(join(ca.directory.path, 'absent.pem'))).to.match(/cannot read ".*absent\.pem" \(ENOENT\)/);
      expect(refusalFor(await file('private.pem', makeRsaKeyPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()))).to.match(/must hold a PEM public key/);
      expect(refusalFor(server.certificatePath)).to.match(/must hold a PEM public key/);
      expect(refusalFor(await file('damaged.pem', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'))).to.match(/is not a readable PEM public key/);
      expect(refusalFor(await file('rsa1024.pem', makeRsaKeyPair(1024).publicKeyPem))).to.match(/must have at least 2048 bits, has 1024/);
      expect(refusalFor(await file('p384.pem', makeEcKeyPair('secp384r1').publicKeyPem))).to.match(/holds an EC key on curve secp384r1$/);
      const ed25519 = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      expect(refusalFor(await file('ed25519.pem', ed25519))).to.match(/holds a key of type ed25519$/);
    });
  });

  describe('API keys file', () => {
    it('loads the entries', async () => {
      const key = makeApiKey();
      const path = await file('keys.json', JSON.stringify([{ id: 'ci', sha256: sha256Hex(key), subject: 'ci-bot', tenant: 'acme', roles: ['submitter'] }]));
      const config = load({ PROVENANCE_API_KEYS_FILE: path });
      expect(config.apiKeys?.map((entry) => [entry.id, entry.sha256.toString('hex'), entry.principal])).to.deep.equal([['ci', sha256Hex(key), { subject: 'ci-bot', tenant: 'acme', roles: ['submitter'] }]]);
      expect(isAuthenticationConfigured(config)).to.equal(true);
    });

    it('names the variable, the file and the entry of a problem', async () => {
      const path = await file('bad-keys.json', JSON.stringify([{ id: 'ci', sha256: 'abc', subject: 's', tenant: 't', roles: ['reader'] }]));
      expect(refusal({ PROVENANCE_API_KEYS_FILE: path }, 'PROVENANCE_API_KEYS_FILE')).to.equal(`PROVENANCE_API_KEYS_FILE: "${path}" entry 0 ("ci"): "sha256" must be the SHA-256 of the key as 64 hex digits`);
      expect(refusal({ PROVENANCE_API_KEYS_FILE: ca.directory.path }, 'PROVENANCE_API_KEYS_FILE')).to.match(/cannot read .* \(EISDIR\)/);
    });
  });

  describe('TLS', () => {
    it('reads the server certificate and key, and the client CA, as grpc-js takes them', async () => {
      const serverOnly = load({ PROVENANCE_TLS_CERT_FILE: server.certificatePath, PROVENANCE_TLS_KEY_FILE: server.keyPath });
      expect(serverOnly.tls?.certificateChain.toString()).to.equal(server.certificatePem);
      expect(serverOnly.tls?.privateKey.toString()).to.equal(server.keyPem);
      expect(serverOnly.tls?.clientCertificateAuthority).to.equal(undefined);
      // Server TLS alone identifies nobody.
      expect(isAuthenticationConfigured(serverOnly)).to.equal(false);

      const mutual = load({ PROVENANCE_TLS_CERT_FILE: server.certificatePath, PROVENANCE_TLS_KEY_FILE: server.keyPath, PROVENANCE_TLS_CLIENT_CA_FILE: ca.certificatePath });
      expect(mutual.tls?.clientCertificateAuthority?.toString()).to.equal(await readFile(ca.certificatePath, 'utf8'));
      expect(isAuthenticationConfigured(mutual)).to.equal(true);
    });

    it('needs the certificate and the key together, and server TLS for a client CA', () => {
      expect(refusal({ PROVENANCE_TLS_CERT_FILE: server.certificatePath }, 'PROVENANCE_TLS_KEY_FILE')).to.match(/required when PROVENANCE_TLS_CERT_FILE is set/);
      expect(refusal({ PROVENANCE_TLS_KEY_FILE: server.keyPath }, 'PROVENANCE_TLS_CERT_FILE')).to.match(/required when PROVENANCE_TLS_KEY_FILE is set/);
      expect(refusal({ PROVENANCE_TLS_CLIENT_CA_FILE: ca.certificatePath }, 'PROVENANCE_TLS_CLIENT_CA_FILE')).to.match(/needs server TLS/);
    });

    it('refuses unreadable files, files without a certificate, a damaged key and a key of another certificate', async () => {
      const tls = { PROVENANCE_TLS_CERT_FILE: server.certificatePath, PROVENANCE_TLS_KEY_FILE: server.keyPath };
      const absent = join(ca.directory.path, 'absent.pem');
      expect(refusal({ ...tls, PROVENANCE_TLS_CERT_FILE: absent }, 'PROVENANCE_TLS_CERT_FILE')).to.match(/cannot read .*\(ENOENT\)/);
      expect(refusal({ ...tls, PROVENANCE_TLS_KEY_FILE: absent }, 'PROVENANCE_TLS_KEY_FILE')).to.match(/cannot read .*\(ENOENT\)/);
      expect(refusal({ ...tls, PROVENANCE_TLS_CLIENT_CA_FILE: absent }, 'PROVENANCE_TLS_CLIENT_CA_FILE')).to.match(/cannot read .*\(ENOENT\)/);
      expect(refusal({ ...tls, PROVENANCE_TLS_CERT_FILE: server.keyPath }, 'PROVENANCE_TLS_CERT_FILE')).to.match(/holds no PEM certificate/);
      expect(refusal({ ...tls, PROVENANCE_TLS_CLIENT_CA_FILE: ca.keyPath }, 'PROVENANCE_TLS_CLIENT_CA_FILE')).to.match(/holds no PEM certificate/);
      const damaged = await file('damaged-cert.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect(refusal({ ...tls, PROVENANCE_TLS_CLIENT_CA_FILE: damaged }, 'PROVENANCE_TLS_CLIENT_CA_FILE')).to.match(/certificate 0 of .* cannot be parsed/);
      expect(refusal({ ...tls, PROVENANCE_TLS_KEY_FILE: server.certificatePath }, 'PROVENANCE_TLS_KEY_FILE')).to.match(/is not an unencrypted PEM private key/);
      expect(refusal({ ...tls, PROVENANCE_TLS_KEY_FILE: otherServer.keyPath }, 'PROVENANCE_TLS_KEY_FILE')).to.match(/is not the key of the certificate in PROVENANCE_TLS_CERT_FILE/);
    });
  });
});
