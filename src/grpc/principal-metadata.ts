import type { Metadata } from '@grpc/grpc-js';
import type { Principal } from '../domain/principal.js';

/**
 * How the authentication interceptor hands the caller to the handlers: beside
 * the call's metadata object (which grpc-js hands down the interceptors to
 * the handler), never in it, so a client cannot choose who it is; and read
 * as the object it is, where a metadata entry was written as JSON and parsed
 * again by each reader (three a call).
 */
const principals = new WeakMap<Metadata, Principal>();

export function setPrincipal(metadata: Metadata, principal: Principal): void {
  principals.set(metadata, principal);
}

/** The caller of a call the authentication interceptor let through. */
export function principalOf(call: { metadata: Metadata }): Principal {
  const principal = principalIfAny(call.metadata);
  if (!principal) throw new Error('no principal on the call: the authentication interceptor did not run');
  return principal;
}

/** The caller, unless the call is one that needs none (health, reflection). */
export function principalIfAny(metadata: Metadata): Principal | undefined {
  return principals.get(metadata);
}
