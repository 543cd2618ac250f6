import { expect } from 'chai';
import { DEFAULT_REDACT_KEYS, REDACTED, redact, secretKeyMatcher } from '../../src/domain/redaction.js';

const isSecret = secretKeyMatcher(DEFAULT_REDACT_KEYS);

describe('redact', () => {
  it('replaces secret keys at any depth, inside arrays, whatever their case, and says so', () => {
    const { value, redacted } = redact(
      { query: 'q', Password: 'p', nested: { deeper: [{ APIKEY: 'k', keep: 1 }, { token: { any: 'shape' } }] }, Authorization: null },
      isSecret,
    );
    expect(redacted).to.equal(true);
    expect(value).to.deep.equal({
      query: 'q',
      Password: REDACTED,
      nested: { deeper: [{ APIKEY: REDACTED, keep: 1 }, { token: REDACTED }] },
      Authorization: REDACTED,
    });
  });

  it('leaves a payload without secrets as it is, and the input untouched', () => {
    const input = { a: { b: [1, { tokens: 2 }] } };
    expect(redact(input, isSecret)).to.deep.equal({ value: input, redacted: false });
    const secret = { secret: 's' };
    redact(secret, isSecret);
    expect(secret).to.deep.equal({ secret: 's' });
  });

  it('takes the common names of secrets by default, whatever their case and separators', () => {
    const secrets = [
      'api_key', 'apiKey', 'API-KEY', 'x-api-key', 'X_Api_Key', 'access_token', 'accessToken', 'client_secret', 'clientSecret',
      'privateKey', 'private_key', 'PRIVATE.KEY', 'passwd', 'bearer_token', 'credentials', 'Credential', 'passphrase', 'cookie',
      'refresh_token', 'id_token', 'session_token', 'secret_key', 'access_key', 'auth_token',
      // compound names ending in a word that names only a secret
      'db_password', 'adminPassword', 'aws_secret', 'stripeApiKey', 'ssh_private_key', 'github_access_token', 'awsCredentials',
    ];
    for (const key of secrets) expect(isSecret(key), key).to.equal(true);
  });

  it('keeps keys that merely contain a secret word: model settings must not lose their values', () => {
    for (const key of ['tokens', 'max_tokens', 'pad_token', 'eos_token', 'tokenizer', 'secretary', 'password_policy', 'keyboard', 'api', 'key']) {
      expect(isSecret(key), key).to.equal(false);
    }
  });

  it('configured entries replace the defaults and are normalized alike; "*" starts a suffix', () => {
    const custom = secretKeyMatcher(['Signing-Key', '*_pin']);
    expect(['signingKey', 'SIGNING_KEY', 'signing.key', 'card_pin', 'cardPin'].map(custom)).to.deep.equal([true, true, true, true, true]);
    expect(['password', 'pin_code'].map(custom)).to.deep.equal([false, false]);
    expect(() => secretKeyMatcher(['*'])).to.throw(RangeError);
    expect(() => secretKeyMatcher(['-_'])).to.throw(RangeError);
  });
});
