import { isIP } from 'node:net';

/** A listening address as configured (PROVENANCE_GRPC_ADDRESS, PROVENANCE_HTTP_ADDRESS): host:port, an IPv6 host in brackets. */
export interface HostAndPort {
  /** As written, brackets of an IPv6 host kept: what goes back in front of a port. */
  host: string;
  /** Without the brackets of an IPv6 host: what a socket listens on or an address check looks at. */
  bareHost: string;
  port: string;
}

export function splitAddress(address: string): HostAndPort {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  return { host, bareHost: host.replace(/^\[(.*)\]$/, '$1'), port: address.slice(colon + 1) };
}

/** Whether a host (without the brackets of an IPv6 one) names this machine's loopback interface. */
export function isLoopback(bareHost: string): boolean {
  if (bareHost.toLowerCase() === 'localhost') return true;
  if (isIP(bareHost) === 4) return bareHost.startsWith('127.');
  return bareHost === '::1';
}
