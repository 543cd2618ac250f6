/**
 * reader, submitter and admin act within the principal's tenant (an admin
 * holds the other two there); operator reads what spans every tenant, the
 * process's metrics, and nothing of any tenant's jobs beyond what its
 * tenant and other roles allow.
 */
export type Role = 'reader' | 'submitter' | 'admin' | 'operator';

/** Who is calling: every record gets its tenant and subject. */
export interface Principal {
  subject: string;
  tenant: string;
  roles: readonly Role[];
}

/** The caller when no authentication is configured (loopback only). */
export const ANONYMOUS_ADMIN: Principal = { subject: 'anonymous', tenant: 'default', roles: ['admin'] };
