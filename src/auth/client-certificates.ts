import type { PeerCertificate } from 'node:tls';
import type { Principal } from '../domain/principal.js';
import { AuthenticationFailed } from './authentication-failed.js';
import { grantedRoles } from './roles.js';

/**
 * The caller a verified client certificate names: subject = the subject's CN,
 * tenant = its O, roles = its OU values that are known roles. The TLS layer
 * has verified the chain against the configured client CA before this runs.
 */
export function principalFromCertificate(certificate: PeerCertificate): Principal {
  // Node gives a repeated attribute as an array of its values.
  const attribute = (name: 'CN' | 'O' | 'OU'): string[] => {
    const value: unknown = (certificate.subject as unknown as Record<string, unknown> | undefined)?.[name];
    return value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
  };
  const single = (name: 'CN' | 'O', meaning: string): string => {
    const values = attribute(name);
    if (values.length !== 1 || values[0] === '') {
      throw new AuthenticationFailed(`client certificate ${describe(certificate)} must have exactly one non-empty subject ${name} (${meaning}), has ${JSON.stringify(values)}`);
    }
    return values[0];
  };
  return { subject: single('CN', 'the subject'), tenant: single('O', 'the tenant'), roles: grantedRoles(attribute('OU')) };
}

function describe(certificate: PeerCertificate): string {
  return `serial ${certificate.serialNumber ?? '?'} from "${certificate.issuer?.CN ?? '?'}"`;
}
