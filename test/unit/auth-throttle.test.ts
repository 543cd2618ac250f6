import { expect } from 'chai';
import { addressKey, AuthenticationThrottle, AuthenticationThrottled } from '../../src/auth/authentication-throttle.js';
import { AuthenticationFailed, type Authenticator, type CallCredentials } from '../../src/auth/authenticator.js';
import { metadataWith } from '../support/credentials.js';

/** Accepts the keys it is given, refuses every other one, and counts what it was asked. */
function keysAuthenticator(goodKeys: string[]) {
  const checked: string[] = [];
  const authenticator: Authenticator = {
    async authenticate({ metadata }: CallCredentials) {
      const [key] = metadata.get('x-api-key');
      if (key === undefined) throw new AuthenticationFailed('no credential was presented');
      checked.push(String(key));
      if (!goodKeys.includes(String(key))) throw new AuthenticationFailed('unknown API key');
      return { subject: String(key), tenant: 't', roles: [] };
    },
  };
  return { authenticator, checked };
}

const withKey = (key: string) => ({ metadata: metadataWith({ 'x-api-key': key }) });

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof AuthenticationThrottled) return `throttled ${(error.details.retryDelayMs ?? 0) > 0}`;
    if (error instanceof AuthenticationFailed) return 'failed';
    throw error;
  }
}

describe('the failed-authentication throttle', () => {
  let time = 1_000_000;
  const now = () => time;

  it('refuses an address unchecked once its failures are spent, until they refill, except for a credential it had accepted', async () => {
    const { authenticator, checked } = keysAuthenticator(['good', 'other-good']);
    const throttle = new AuthenticationThrottle(authenticator, { perMinute: 6, burst: 3 }, now);
    expect(await outcome(throttle.authenticate(withKey('good'), '10.0.0.1'))).to.equal('ok');
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push(await outcome(throttle.authenticate(withKey(`guess-${i}`), '10.0.0.1')));
    expect(guesses).to.deep.equal(['failed', 'failed', 'failed', 'throttled true', 'throttled true', 'throttled true']);
    // Refused unchecked: the authenticator never saw the throttled guesses, right or wrong.
    expect(await outcome(throttle.authenticate(withKey('other-good'), '10.0.0.1'))).to.equal('throttled true');
    expect(checked).to.deep.equal(['good', 'guess-0', 'guess-1', 'guess-2']);
    // A credential this address had accepted, other addresses, and calls without a credential go on.
    expect(await outcome(throttle.authenticate(withKey('good'), '10.0.0.1'))).to.equal('ok');
    expect(await outcome(throttle.authenticate(withKey('other-good'), '10.0.0.2'))).to.equal('ok');
    expect(await outcome(throttle.authenticate({ metadata: metadataWith() }, '10.0.0.1'))).to.equal('failed');
    // 6 per minute: one failure back every 10 s.
    time += 10_000;
    expect(await outcome(throttle.authenticate(withKey('guess-6'), '10.0.0.1'))).to.equal('failed');
    expect(await outcome(throttle.authenticate(withKey('guess-7'), '10.0.0.1'))).to.equal('throttled true');
  });

  it('counts an IPv6 /64 as one address, and an IPv4-mapped address as its IPv4 one', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).to.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.to.equal(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::ffff:192.0.2.7')).to.equal('192.0.2.7');
    expect(addressKey('::1')).to.equal('0:0:0:0::/64');
    expect(addressKey('192.0.2.7')).to.equal('192.0.2.7');
  });

  it('keeps a bounded number of addresses, the most recent ones', async () => {
    const { authenticator } = keysAuthenticator([]);
    const throttle = new AuthenticationThrottle(authenticator, { perMinute: 1, burst: 1 }, now);
    await outcome(throttle.authenticate(withKey('guess'), '10.9.9.9'));
    expect(await outcome(throttle.authenticate(withKey('guess'), '10.9.9.9'))).to.equal('throttled true');
    for (let i = 0; i < 100_000; i++) await outcome(throttle.authenticate(withKey('guess'), `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
    const tracked = (throttle as unknown as { failures: Map<string, unknown> }).failures;
    expect(tracked.size).to.be.at.most(100_000);
    // The oldest address was let go to make room: it starts afresh.
    expect(await outcome(throttle.authenticate(withKey('guess'), '10.9.9.9'))).to.equal('failed');
  });
});
