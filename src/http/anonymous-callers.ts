import type { IncomingMessage } from 'node:http';
import { ProvenanceError } from '../domain/errors.js';
import { isLoopback } from '../platform/address.js';

/**
 * With no authentication configured, every caller is the anonymous admin of
 * tenant "default", and the listener is on loopback (unless
 * PROVENANCE_ALLOW_INSECURE): so is any web page the user's browser opens.
 * REST bodies are read as JSON whatever their Content-Type, so a page of
 * another site could submit jobs or invalidate caches with a "simple"
 * cross-site POST, and one whose name an attacker makes resolve to
 * 127.0.0.1 (DNS rebinding) could read every answer as its own origin (a
 * probe did both, 2026-12-07). A browser names the page's origin in every
 * such request, and the site in Host, which other clients (curl, the
 * clients/, the gateway's own calls) do not change: a request whose Origin
 * is not its Host's, or whose Host is not a loopback name on a loopback
 * listener, is refused. With authentication the credential is the guard: a
 * browser holds none that another site can make it send (the viewer keeps
 * its own in sessionStorage).
 */
export function crossSiteRefusal(request: IncomingMessage, loopbackListener: boolean): ProvenanceError | undefined {
  const { host, origin } = request.headers;
  if (origin !== undefined && !sameHost(origin, host)) {
    return refusal('CROSS_ORIGIN_REQUEST', `a request from ${JSON.stringify(origin.slice(0, 200))}, another origin than this server's, is refused: with no authentication configured, every caller is the anonymous admin`);
  }
  if (loopbackListener && host !== undefined && !isLoopback(hostnameOf(host))) {
    return refusal('HOST_NOT_LOOPBACK', 'this server listens on loopback with no authentication configured, and answers only requests that name a loopback host (localhost, 127.0.0.1, [::1])');
  }
  return undefined;
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    // "null" (a sandboxed page, a file) or anything else that is not an origin.
    return false;
  }
}

/** The host of a Host header, without its port and the brackets of an IPv6 address; '' when it is no host. */
function hostnameOf(host: string): string {
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

function refusal(reason: string, message: string): ProvenanceError {
  return new ProvenanceError('PERMISSION_DENIED', message, reason);
}
