import { compareCodeUnits } from '../domain/hashing.js';
import type { HandlerCatalog, JobHandler } from '../domain/ports/job-handlers.js';
import { Violations } from '../domain/validation.js';

/** The longest provider id a job may carry (validation of provider.id). */
const MAX_PROVIDER_ID_LENGTH = 256;

export interface HandlerRegistration {
  type: string;
  /** Absent: the handler runs the type for every provider that has no handler of its own. */
  providerId?: string;
  handler: JobHandler;
  /** Who registered it, for the message when another registration claims the same key: "the built-in handlers", 'handler module "./x.mjs"'. */
  source: string;
}

/**
 * The handlers of this process, by job type and optionally by (type,
 * provider id). A key is registered once: a second registration is a
 * mistake (two modules claiming one type), never a silent override.
 */
export class HandlerRegistry implements HandlerCatalog {
  /** type → provider id ('' for the type's own handler) → registration. */
  private readonly byType = new Map<string, Map<string, HandlerRegistration>>();

  register(registration: HandlerRegistration): void {
    this.registerAll([registration]);
  }

  /** Registers all or, when any of them is invalid or already taken, none. */
  registerAll(registrations: readonly HandlerRegistration[]): void {
    const keys = new Set<string>();
    for (const registration of registrations) {
      checkRegistration(registration);
      const earlier = this.byType.get(registration.type)?.get(registration.providerId ?? '');
      if (earlier) throw new Error(`${describeKey(registration)} is already registered by ${earlier.source}`);
      const key = JSON.stringify([registration.type, registration.providerId ?? '']);
      if (keys.has(key)) throw new Error(`${describeKey(registration)} is registered twice by ${registration.source}`);
      keys.add(key);
    }
    for (const registration of registrations) {
      let byProvider = this.byType.get(registration.type);
      if (!byProvider) this.byType.set(registration.type, (byProvider = new Map()));
      byProvider.set(registration.providerId ?? '', registration);
    }
  }

  find(type: string, providerId: string): JobHandler | undefined {
    const byProvider = this.byType.get(type);
    return (byProvider?.get(providerId) ?? byProvider?.get(''))?.handler;
  }

  types(): string[] {
    return [...this.byType.keys()].sort(compareCodeUnits);
  }
}

function checkRegistration(registration: HandlerRegistration): void {
  const typeRule = new Violations();
  typeRule.type('type', registration.type);
  const [violation] = typeRule.list;
  if (violation) throw new Error(`job type ${JSON.stringify(registration.type)} is invalid: it ${violation.description}`);
  const { providerId } = registration;
  if (providerId !== undefined && (providerId.length === 0 || providerId.length > MAX_PROVIDER_ID_LENGTH)) {
    throw new Error(`provider id ${JSON.stringify(providerId)} of type "${registration.type}" must be 1 to ${MAX_PROVIDER_ID_LENGTH} characters`);
  }
  if (typeof registration.handler !== 'function') {
    throw new Error(`the handler of ${describeKey(registration)} is ${describeValue(registration.handler)}, not a function`);
  }
}

function describeKey({ type, providerId }: Pick<HandlerRegistration, 'type' | 'providerId'>): string {
  return providerId === undefined ? `a handler for type "${type}"` : `a handler for type "${type}" and provider "${providerId}"`;
}

/** Names what a value is, for messages about a module that exported the wrong thing. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const kind = typeof value;
  if (kind === 'undefined') return 'undefined';
  return kind === 'object' ? 'an object' : `a ${kind}`;
}
