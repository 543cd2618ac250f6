import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobHandler } from '../domain/ports/job-handlers.js';
import { describeValue, type HandlerRegistration, type HandlerRegistry } from './handler-registry.js';

/** In a provider map of a handler module, the key of the handler for every provider without one of its own. */
export const ANY_PROVIDER = '*';

const SHAPE =
  'export const handlers = { "<job type>": handler, "<job type>": { "<provider id>": handler, "*": handler } }';

/**
 * Imports the modules named in PROVENANCE_HANDLERS, in order, and registers
 * their handlers (docs/handlers.md). A module is a path (absolute, or
 * starting with ./ or ../, from the working directory) or a package name.
 * Any problem throws an Error naming the module; a module registers all of
 * its handlers or none.
 */
export async function loadHandlerModules(specifiers: readonly string[], registry: HandlerRegistry): Promise<void> {
  for (const specifier of specifiers) {
    const source = `handler module "${specifier}"`;
    const registrations = readHandlersExport(await importModule(specifier, source), source);
    try {
      registry.registerAll(registrations);
    } catch (error) {
      throw new Error(`${source}: ${(error as Error).message}`, { cause: error });
    }
  }
}

async function importModule(specifier: string, source: string): Promise<Record<string, unknown>> {
  if (specifier.trim() === '') throw new Error('a handler module specifier is empty');
  const looksLikePath = specifier.startsWith('./') || specifier.startsWith('../') || isAbsolute(specifier);
  try {
    return (await import(looksLikePath ? pathToFileURL(resolve(specifier)).href : specifier)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const hint =
      code === 'ERR_MODULE_NOT_FOUND' && !looksLikePath && /\.[cm]?js$/.test(specifier)
        ? ` (for a file relative to the working directory, write "./${specifier}")`
        : '';
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${source} could not be loaded: ${reason}${hint}`, { cause: error });
  }
}

function readHandlersExport(moduleExports: Record<string, unknown>, source: string): HandlerRegistration[] {
  if (!('handlers' in moduleExports)) throw new Error(`${source} has no "handlers" export; it must have ${SHAPE}`);
  const handlers = moduleExports['handlers'];
  if (!isPlainObject(handlers)) {
    throw new Error(`${source}: its "handlers" export is ${describeValue(handlers)}; it must be an object: ${SHAPE}`);
  }
  const registrations: HandlerRegistration[] = [];
  for (const [type, value] of Object.entries(handlers)) {
    const path = `handlers[${JSON.stringify(type)}]`;
    if (typeof value === 'function') {
      registrations.push({ type, handler: value as JobHandler, source });
    } else if (isPlainObject(value) && Object.keys(value).length > 0) {
      for (const [providerKey, handler] of Object.entries(value)) {
        if (typeof handler !== 'function') {
          throw new Error(`${source}: ${path}[${JSON.stringify(providerKey)}] is ${describeValue(handler)}, not a handler function`);
        }
        const providerId = providerKey === ANY_PROVIDER ? undefined : providerKey;
        registrations.push({ type, providerId, handler: handler as JobHandler, source });
      }
    } else {
      throw new Error(
        `${source}: ${path} is ${isPlainObject(value) ? 'an empty object' : describeValue(value)}; ` +
          `it must be a handler function, or an object mapping provider ids ("${ANY_PROVIDER}" for any other provider) to handler functions`,
      );
    }
  }
  if (registrations.length === 0) throw new Error(`${source}: its "handlers" export is empty; it must have ${SHAPE}`);
  return registrations;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
