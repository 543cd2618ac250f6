export type Role = 'reader' | 'submitter' | 'admin';

/** Who is calling: every record gets its tenant and subject. */
export interface Principal {
  subject: string;
  tenant: string;
  roles: readonly Role[];
}

/** The caller when no authentication is configured (loopback only). */
export const ANONYMOUS_ADMIN: Principal = { subject: 'anonymous', tenant: 'default', roles: ['admin'] };
