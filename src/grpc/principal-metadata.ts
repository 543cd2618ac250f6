import type { Metadata } from '@grpc/grpc-js';
import type { Principal } from '../domain/principal.js';

/**
 * How the authentication interceptor hands the caller to the handlers: in a
 * metadata entry that it always removes from what the client sent first, so
 * a client cannot choose who it is.
 */
const PRINCIPAL_KEY = 'x-provenance-principal';

export function setPrincipal(metadata: Metadata, principal: Principal): void {
  metadata.set(PRINCIPAL_KEY, JSON.stringify(principal));
}

export function removePrincipal(metadata: Metadata): void {
  metadata.remove(PRINCIPAL_KEY);
}

/** The caller of a call the authentication interceptor let through. */
export function principalOf(call: { metadata: Metadata }): Principal {
  const principal = principalIfAny(call.metadata);
  if (!principal) throw new Error('no principal on the call: the authentication interceptor did not run');
  return principal;
}

/** The caller, unless the call is one that needs none (health, reflection). */
export function principalIfAny(metadata: Metadata): Principal | undefined {
  const [value] = metadata.get(PRINCIPAL_KEY);
  return typeof value === 'string' ? (JSON.parse(value) as Principal) : undefined;
}
