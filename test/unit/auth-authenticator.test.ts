import type { PeerCertificate } from 'node:tls';
import { expect } from 'chai';
import { loadAuthConfig } from '../../src/auth/auth-config.js';
import { createAuthenticator, type Authenticator, type CallCredentials } from '../../src/auth/authenticator.js';
import { principalFromCertificate } from '../../src/auth/client-certificates.js';
import type { Principal } from '../../src/domain/principal.js';
import {
  authenticationRefusal,
  issueCertificate,
  makeApiKey,
  makeCertificateAuthority,
  makeHmacSecret,
  metadataWith,
  sha256Hex,
  signToken,
  verifiedPeerCertificate,
  type CertificateAuthority,
  type CertificateFiles,
} from '../support/credentials.js';

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'provenance';

describe('client certificate principal', () => {
  let ca: CertificateAuthority;
  let server: CertificateFiles;
  const presented = async (subject: Parameters<typeof issueCertificate>[1]): Promise<PeerCertificate> =>
    verifiedPeerCertificate(ca, server, await issueCertificate(ca, subject));

  before(async () => {
    ca = await makeCertificateAuthority();
    server = await issueCertificate(ca, { commonName: 'provenance', server: ['localhost', '127.0.0.1'] });
  });

  after(() => ca.remove());

  it('takes the subject from CN, the tenant from O and the roles from the known OU values', async () => {
    const certificate = await presented({ commonName: 'etl-runner', organization: 'acme', organizationalUnits: ['data-platform', 'submitter', 'admin'] });
    expect(principalFromCertificate(certificate)).to.deep.equal({ subject: 'etl-runner', tenant: 'acme', roles: ['submitter', 'admin'] });
  });

  it('takes a single OU, and makes a reader of a certificate without a known OU', async () => {
    expect(principalFromCertificate(await presented({ commonName: 'a', organization: 'acme', organizationalUnits: ['submitter'] })).roles).to.deep.equal(['submitter']);
    expect(principalFromCertificate(await presented({ commonName: 'b', organization: 'acme', organizationalUnits: ['ops'] })).roles).to.deep.equal(['reader']);
    expect(principalFromCertificate(await presented({ commonName: 'c', organization: 'acme' })).roles).to.deep.equal(['reader']);
  });

  it('keeps characters that are special in distinguished names', async () => {
    const certificate = await presented({ commonName: 'svc/a+b=c', organization: 'acme, inc.' });
    expect(principalFromCertificate(certificate)).to.deep.include({ subject: 'svc/a+b=c', tenant: 'acme, inc.' });
  });

  it('refuses a certificate without an organization (the tenant)', async () => {
    const certificate = await presented({ commonName: 'no-tenant', organizationalUnits: ['admin'] });
    expect(() => principalFromCertificate(certificate)).to.throw(/must have exactly one non-empty subject O \(the tenant\), has \[\]/);
  });
});

describe('authenticator', () => {
  const secret = makeHmacSecret();
  const apiKey = makeApiKey();
  let ca: CertificateAuthority;
  let peerCertificate: PeerCertificate;
  let files: { apiKeys: string; server: CertificateFiles };

  const tokenPrincipal: Principal = { subject: 'token-user', tenant: 'token-tenant', roles: ['admin'] };
  const keyPrincipal: Principal = { subject: 'key-user', tenant: 'key-tenant', roles: ['submitter'] };
  const certificatePrincipal: Principal = { subject: 'cert-user', tenant: 'cert-tenant', roles: ['reader'] };

  before(async () => {
    ca = await makeCertificateAuthority();
    const server = await issueCertificate(ca, { commonName: 'provenance', server: ['localhost', '127.0.0.1'] });
    const client = await issueCertificate(ca, { commonName: 'cert-user', organization: 'cert-tenant', organizationalUnits: ['reader'] });
    peerCertificate = await verifiedPeerCertificate(ca, server, client);
    const apiKeys = await ca.directory.write('keys.json', JSON.stringify([{ id: 'k', sha256: sha256Hex(apiKey), subject: 'key-user', tenant: 'key-tenant', roles: ['submitter'] }]));
    files = { apiKeys, server };
  });

  after(() => ca.remove());

  type Method = 'jwt' | 'apiKeys' | 'serverTls' | 'mutualTls';

  function authenticatorWith(...methods: Method[]): Authenticator {
    const env: Record<string, string> = {};
    if (methods.includes('jwt')) Object.assign(env, { PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_ISSUER: ISSUER, PROVENANCE_JWT_AUDIENCE: AUDIENCE });
    if (methods.includes('apiKeys')) env.PROVENANCE_API_KEYS_FILE = files.apiKeys;
    if (methods.includes('serverTls') || methods.includes('mutualTls')) Object.assign(env, { PROVENANCE_TLS_CERT_FILE: files.server.certificatePath, PROVENANCE_TLS_KEY_FILE: files.server.keyPath });
    if (methods.includes('mutualTls')) env.PROVENANCE_TLS_CLIENT_CA_FILE = ca.certificatePath;
    const authenticator = createAuthenticator(loadAuthConfig((name) => env[name]));
    if (!authenticator) throw new Error(`no authenticator for ${methods.join(', ')}`);
    return authenticator;
  }

  const validToken = (): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return signToken({ iss: ISSUER, aud: AUDIENCE, sub: 'token-user', tenant: 'token-tenant', roles: ['admin'], exp: now + 300 }, 'HS256', secret);
  };
  const forgedToken = async (): Promise<string> => `${(await validToken()).slice(0, -4)}AAAA`;

  function call(headers: Record<string, string | string[]>, certificate?: PeerCertificate): CallCredentials {
    return certificate ? { metadata: metadataWith(headers), peerCertificate: certificate } : { metadata: metadataWith(headers) };
  }

  it('is not created when only server TLS is configured', () => {
    const env: Record<string, string> = { PROVENANCE_TLS_CERT_FILE: files.server.certificatePath, PROVENANCE_TLS_KEY_FILE: files.server.keyPath };
    expect(createAuthenticator(loadAuthConfig((name) => env[name]))).to.equal(undefined);
  });

  describe('precedence', () => {
    it('takes a bearer token first, then an API key, then the client certificate', async () => {
      const authenticator = authenticatorWith('jwt', 'apiKeys', 'mutualTls');
      const bearer = `Bearer ${await validToken()}`;
      expect(await authenticator.authenticate(call({ authorization: bearer, 'x-api-key': apiKey }, peerCertificate))).to.deep.equal(tokenPrincipal);
      expect(await authenticator.authenticate(call({ 'x-api-key': apiKey }, peerCertificate))).to.deep.equal(keyPrincipal);
      expect(await authenticator.authenticate(call({}, peerCertificate))).to.deep.equal(certificatePrincipal);
    });

    it('refuses a call with no credential', async () => {
      expect(await authenticationRefusal(authenticatorWith('jwt', 'apiKeys', 'mutualTls'), call({}))).to.equal('no credential was presented');
    });
  });

  describe('no fall-through on a bad credential', () => {
    it('refuses a bad bearer token even with a valid API key and certificate', async () => {
      const message = await authenticationRefusal(authenticatorWith('jwt', 'apiKeys', 'mutualTls'), call({ authorization: `Bearer ${await forgedToken()}`, 'x-api-key': apiKey }, peerCertificate));
      expect(message).to.match(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    it('refuses a bad API key even with a valid certificate', async () => {
      expect(await authenticationRefusal(authenticatorWith('apiKeys', 'mutualTls'), call({ 'x-api-key': makeApiKey() }, peerCertificate))).to.match(/^unknown API key/);
      expect(await authenticationRefusal(authenticatorWith('apiKeys', 'mutualTls'), call({ 'x-api-key': '' }, peerCertificate))).to.equal('empty API key');
    });

    it('refuses an authorization header that is not a bearer token', async () => {
      const authenticator = authenticatorWith('jwt', 'apiKeys');
      expect(await authenticationRefusal(authenticator, call({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': apiKey }))).to.match(/is not "Bearer <token>" \(scheme "Basic"\)/);
      expect(await authenticationRefusal(authenticator, call({ authorization: 'Bearer', 'x-api-key': apiKey }))).to.match(/is not "Bearer <token>"/);
      expect(await authenticationRefusal(authenticator, call({ authorization: 'Bearer a b', 'x-api-key': apiKey }))).to.match(/is not "Bearer <token>"/);
    });

    it('refuses a credential header sent twice', async () => {
      const token = await validToken();
      expect(await authenticationRefusal(authenticatorWith('jwt'), call({ authorization: [`Bearer ${token}`, `Bearer ${token}`] }))).to.equal('the authorization header was sent 2 times');
      expect(await authenticationRefusal(authenticatorWith('apiKeys'), call({ 'x-api-key': [apiKey, apiKey] }))).to.equal('the x-api-key header was sent 2 times');
    });

    it('refuses a kind of credential the server is not configured for, rather than ignoring it', async () => {
      expect(await authenticationRefusal(authenticatorWith('apiKeys'), call({ authorization: `Bearer ${await validToken()}`, 'x-api-key': apiKey }))).to.match(/JWT authentication is not configured/);
      expect(await authenticationRefusal(authenticatorWith('jwt', 'mutualTls'), call({ 'x-api-key': apiKey }, peerCertificate))).to.match(/API keys are not configured/);
    });
  });

  describe('client certificates', () => {
    it('identify the caller only when a client CA is configured', async () => {
      expect(await authenticationRefusal(authenticatorWith('apiKeys', 'serverTls'), call({}, peerCertificate))).to.equal('no credential was presented');
      expect(await authenticatorWith('apiKeys', 'mutualTls').authenticate(call({}, peerCertificate))).to.deep.equal(certificatePrincipal);
    });
  });
});
