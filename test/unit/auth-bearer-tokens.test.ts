import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import { loadAuthConfig } from '../../src/auth/auth-config.js';
import { AuthenticationFailed } from '../../src/auth/authentication-failed.js';
import { createAuthenticator, type Authenticator } from '../../src/auth/authenticator.js';
import { BearerTokenVerifier } from '../../src/auth/bearer-tokens.js';
import type { Principal } from '../../src/domain/principal.js';
import {
  authenticationRefusal,
  makeEcKeyPair,
  makeHmacSecret,
  makeRsaKeyPair,
  makeTemporaryDirectory,
  metadataWith,
  signToken,
  unsecuredToken,
  type SigningKeyPair,
  type TemporaryDirectory,
} from '../support/credentials.js';

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'provenance';
/** jose's refusal of an algorithm outside the whitelist, before any key is looked at. */
const ALGORITHM_NOT_ALLOWED = /\(ERR_JOSE_ALG_NOT_ALLOWED\): "alg" \(Algorithm\) Header Parameter value not allowed$/;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = nowSeconds();
  return { iss: ISSUER, aud: AUDIENCE, sub: 'alice', tenant: 'acme', roles: ['submitter'], iat: now, exp: now + 300, ...overrides };
}

function without(payload: JWTPayload, claim: string): JWTPayload {
  const copy = { ...payload };
  delete copy[claim];
  return copy;
}

describe('bearer JWT authentication', () => {
  let directory: TemporaryDirectory;
  let rsa: SigningKeyPair;
  let ec: SigningKeyPair;
  let secret: string;
  let rsaPublicKeyFile: string;
  let ecPublicKeyFile: string;

  before(async () => {
    directory = await makeTemporaryDirectory();
    rsa = makeRsaKeyPair();
    ec = makeEcKeyPair();
    secret = makeHmacSecret();
    rsaPublicKeyFile = await directory.write('rsa.pem', rsa.publicKeyPem);
    ecPublicKeyFile = await directory.write('ec.pem', ec.publicKeyPem);
  });

  after(() => directory.remove());

  function authenticatorFor(keys: { secret?: boolean; publicKeyFile?: string }, extra: Record<string, string> = {}): Authenticator {
    const env: Record<string, string> = { PROVENANCE_JWT_ISSUER: ISSUER, PROVENANCE_JWT_AUDIENCE: AUDIENCE, ...extra };
    if (keys.secret) env.PROVENANCE_JWT_SECRET = secret;
    if (keys.publicKeyFile) env.PROVENANCE_JWT_PUBLIC_KEY_FILE = keys.publicKeyFile;
    const authenticator = createAuthenticator(loadAuthConfig((name) => env[name]));
    if (!authenticator) throw new Error('JWT authentication should be configured');
    return authenticator;
  }

  const withToken = (token: string) => ({ metadata: metadataWith({ authorization: `Bearer ${token}` }) });
  const accepted = (authenticator: Authenticator, token: string): Promise<Principal> => authenticator.authenticate(withToken(token));
  const refused = (authenticator: Authenticator, token: string): Promise<string> => authenticationRefusal(authenticator, withToken(token));

  describe('valid tokens', () => {
    it('accepts an HS256 token signed with the shared secret', async () => {
      const principal = await accepted(authenticatorFor({ secret: true }), await signToken(claims(), 'HS256', secret));
      expect(principal).to.deep.equal({ subject: 'alice', tenant: 'acme', roles: ['submitter'] });
    });

    it('accepts an RS256 token signed by the RSA key', async () => {
      const principal = await accepted(authenticatorFor({ publicKeyFile: rsaPublicKeyFile }), await signToken(claims({ sub: 'bob', tenant: 'globex', roles: ['admin'] }), 'RS256', rsa.privateKey));
      expect(principal).to.deep.equal({ subject: 'bob', tenant: 'globex', roles: ['admin'] });
    });

    it('accepts an ES256 token signed by the P-256 key', async () => {
      const principal = await accepted(authenticatorFor({ publicKeyFile: ecPublicKeyFile }), await signToken(claims({ sub: 'carol' }), 'ES256', ec.privateKey));
      expect(principal).to.deep.equal({ subject: 'carol', tenant: 'acme', roles: ['submitter'] });
    });

    it('accepts both HS256 and the public key algorithm when both keys are configured, each with its own key', async () => {
      const authenticator = authenticatorFor({ secret: true, publicKeyFile: rsaPublicKeyFile });
      expect((await accepted(authenticator, await signToken(claims({ sub: 'hs' }), 'HS256', secret))).subject).to.equal('hs');
      expect((await accepted(authenticator, await signToken(claims({ sub: 'rs' }), 'RS256', rsa.privateKey))).subject).to.equal('rs');
      expect(await refused(authenticator, await signToken(claims(), 'ES256', ec.privateKey))).to.match(ALGORITHM_NOT_ALLOWED);
    });

    it('takes a lowercase "bearer" scheme', async () => {
      const token = await signToken(claims(), 'HS256', secret);
      expect((await authenticatorFor({ secret: true }).authenticate({ metadata: metadataWith({ authorization: `bearer ${token}` }) })).subject).to.equal('alice');
    });
  });

  describe('times', () => {
    it('refuses a token expired beyond the clock skew, and accepts one expired within it', async () => {
      const authenticator = authenticatorFor({ secret: true });
      const now = nowSeconds();
      expect(await refused(authenticator, await signToken(claims({ iat: now - 600, exp: now - 60 }), 'HS256', secret))).to.match(/ERR_JWT_EXPIRED/);
      expect((await accepted(authenticator, await signToken(claims({ iat: now - 600, exp: now - 10 }), 'HS256', secret))).subject).to.equal('alice');
    });

    it('refuses a token not yet valid beyond the clock skew, and accepts one within it', async () => {
      const authenticator = authenticatorFor({ secret: true });
      const now = nowSeconds();
      expect(await refused(authenticator, await signToken(claims({ nbf: now + 60 }), 'HS256', secret))).to.match(/ERR_JWT_CLAIM_VALIDATION_FAILED.*"nbf"/);
      expect((await accepted(authenticator, await signToken(claims({ nbf: now + 10 }), 'HS256', secret))).subject).to.equal('alice');
    });

    it('uses the configured clock skew', async () => {
      const authenticator = authenticatorFor({ secret: true }, { PROVENANCE_JWT_CLOCK_SKEW_S: '0' });
      expect(await refused(authenticator, await signToken(claims({ exp: nowSeconds() - 10 }), 'HS256', secret))).to.match(/ERR_JWT_EXPIRED/);
    });

    it('refuses a token it accepted before once the token expires', async () => {
      const env: Record<string, string> = { PROVENANCE_JWT_ISSUER: ISSUER, PROVENANCE_JWT_AUDIENCE: AUDIENCE, PROVENANCE_JWT_SECRET: secret, PROVENANCE_JWT_CLOCK_SKEW_S: '0' };
      let nowMs = Date.now();
      const verifier = new BearerTokenVerifier(loadAuthConfig((name) => env[name]).jwt!, () => nowMs);
      const token = await signToken(claims({ exp: Math.floor(nowMs / 1000) + 1 }), 'HS256', secret);
      expect((await verifier.verify(token)).subject).to.equal('alice');
      // The second call is answered from the kept token.
      expect((await verifier.verify(token)).subject).to.equal('alice');
      nowMs += 2000;
      const refusal = await verifier.verify(token).then(
        (principal) => `accepted ${JSON.stringify(principal)}`,
        (error: unknown) => (error instanceof AuthenticationFailed ? error.message : `threw ${String(error)}`),
      );
      expect(refusal).to.match(/ERR_JWT_EXPIRED/);
    });

    it('refuses a token without exp', async () => {
      expect(await refused(authenticatorFor({ secret: true }), await signToken(without(claims(), 'exp'), 'HS256', secret))).to.match(/"exp" claim/);
    });
  });

  describe('signatures and algorithms', () => {
    it('refuses an HS256 token signed with another secret', async () => {
      expect(await refused(authenticatorFor({ secret: true }), await signToken(claims(), 'HS256', makeHmacSecret()))).to.match(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    it('refuses RS256 and ES256 tokens signed by other keys', async () => {
      expect(await refused(authenticatorFor({ publicKeyFile: rsaPublicKeyFile }), await signToken(claims(), 'RS256', makeRsaKeyPair().privateKey))).to.match(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
      expect(await refused(authenticatorFor({ publicKeyFile: ecPublicKeyFile }), await signToken(claims(), 'ES256', makeEcKeyPair().privateKey))).to.match(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    it('refuses a token whose claims were changed after signing', async () => {
      const [header, , signature] = (await signToken(claims(), 'HS256', secret)).split('.');
      const forgedClaims = Buffer.from(JSON.stringify(claims({ tenant: 'globex', roles: ['admin'] }))).toString('base64url');
      expect(await refused(authenticatorFor({ secret: true }), `${header}.${forgedClaims}.${signature}`)).to.match(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    it('refuses alg "none" whatever keys are configured', async () => {
      const token = unsecuredToken(claims());
      for (const keys of [{ secret: true }, { publicKeyFile: rsaPublicKeyFile }, { secret: true, publicKeyFile: ecPublicKeyFile }]) {
        expect(await refused(authenticatorFor(keys), token)).to.match(ALGORITHM_NOT_ALLOWED);
      }
    });

    it('refuses an algorithm that is not configured', async () => {
      expect(await refused(authenticatorFor({ secret: true }), await signToken(claims(), 'RS256', rsa.privateKey))).to.match(ALGORITHM_NOT_ALLOWED);
      expect(await refused(authenticatorFor({ publicKeyFile: rsaPublicKeyFile }), await signToken(claims(), 'ES256', ec.privateKey))).to.match(ALGORITHM_NOT_ALLOWED);
      expect(await refused(authenticatorFor({ publicKeyFile: ecPublicKeyFile }), await signToken(claims(), 'HS256', secret))).to.match(ALGORITHM_NOT_ALLOWED);
    });

    it('refuses an HS256 token "signed" with the RSA public key PEM (algorithm confusion)', async () => {
      const confused = await signToken(claims({ roles: ['admin'] }), 'HS256', rsa.publicKeyPem);
      expect(await refused(authenticatorFor({ publicKeyFile: rsaPublicKeyFile }), confused)).to.match(ALGORITHM_NOT_ALLOWED);
      // With a shared secret configured too, HS256 is allowed, but it is checked with the secret, never the public key.
      expect(await refused(authenticatorFor({ secret: true, publicKeyFile: rsaPublicKeyFile }), confused)).to.match(/ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    });

    it('refuses tokens that are not JWTs', async () => {
      const authenticator = authenticatorFor({ secret: true });
      for (const token of ['abc', 'a.b.c', '..', `${unsecuredToken(claims())}.extra`]) {
        expect(await refused(authenticator, token)).to.match(/^bearer token refused \(ERR_JW[ST]_INVALID\)/);
      }
    });
  });

  describe('issuer and audience', () => {
    it('refuses a token from another issuer', async () => {
      expect(await refused(authenticatorFor({ secret: true }), await signToken(claims({ iss: 'https://elsewhere.example' }), 'HS256', secret))).to.match(/unexpected "iss" claim value/);
    });

    it('refuses a token for another audience, or for none', async () => {
      const authenticator = authenticatorFor({ secret: true });
      expect(await refused(authenticator, await signToken(claims({ aud: 'other-service' }), 'HS256', secret))).to.match(/unexpected "aud" claim value/);
      expect(await refused(authenticator, await signToken(without(claims(), 'aud'), 'HS256', secret))).to.match(/"aud" claim/);
    });

    it('accepts a token whose audience list includes ours', async () => {
      expect((await accepted(authenticatorFor({ secret: true }), await signToken(claims({ aud: ['other-service', AUDIENCE] }), 'HS256', secret))).subject).to.equal('alice');
    });
  });

  describe('the principal', () => {
    it('refuses a token without sub', async () => {
      const authenticator = authenticatorFor({ secret: true });
      expect(await refused(authenticator, await signToken(without(claims(), 'sub'), 'HS256', secret))).to.equal('bearer token has no "sub" claim');
      expect(await refused(authenticator, await signToken(claims({ sub: '' }), 'HS256', secret))).to.equal('bearer token has no "sub" claim');
    });

    it('refuses a token without a tenant, or with a tenant that is not a non-empty string', async () => {
      const authenticator = authenticatorFor({ secret: true });
      for (const payload of [without(claims(), 'tenant'), claims({ tenant: '' }), claims({ tenant: 42 }), claims({ tenant: ['acme'] })]) {
        expect(await refused(authenticator, await signToken(payload, 'HS256', secret))).to.equal('bearer token has no "tenant" (tenant) claim');
      }
    });

    it('reads roles from an array or a space-separated string, keeps known roles only, and defaults to reader', async () => {
      const authenticator = authenticatorFor({ secret: true });
      const rolesOf = async (payload: JWTPayload) => (await accepted(authenticator, await signToken(payload, 'HS256', secret))).roles;
      expect(await rolesOf(claims({ roles: ['submitter', 'admin'] }))).to.deep.equal(['submitter', 'admin']);
      expect(await rolesOf(claims({ roles: 'admin  submitter' }))).to.deep.equal(['admin', 'submitter']);
      expect(await rolesOf(claims({ roles: ['owner', 'admin', 'admin'] }))).to.deep.equal(['admin']);
      expect(await rolesOf(claims({ roles: 'owner superuser' }))).to.deep.equal(['reader']);
      expect(await rolesOf(claims({ roles: [] }))).to.deep.equal(['reader']);
      expect(await rolesOf(without(claims(), 'roles'))).to.deep.equal(['reader']);
    });

    it('refuses a roles claim that is neither a string nor an array of strings', async () => {
      const authenticator = authenticatorFor({ secret: true });
      for (const roles of [7, { admin: true }, ['admin', 1]]) {
        expect(await refused(authenticator, await signToken(claims({ roles }), 'HS256', secret))).to.match(/"roles" \(roles\) claim that is neither/);
      }
    });

    it('reads the tenant and roles from the configured claims', async () => {
      const authenticator = authenticatorFor({ secret: true }, { PROVENANCE_JWT_TENANT_CLAIM: 'https://example.com/org', PROVENANCE_JWT_ROLES_CLAIM: 'scope' });
      const token = await signToken(claims({ tenant: 'ignored', roles: ['admin'], 'https://example.com/org': 'initech', scope: 'openid submitter' }), 'HS256', secret);
      expect(await accepted(authenticator, token)).to.deep.equal({ subject: 'alice', tenant: 'initech', roles: ['submitter'] });
    });
  });
});
