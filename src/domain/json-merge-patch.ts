import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject, setMember } from './json.js';

/**
 * RFC 7386 JSON Merge Patch: objects merge recursively, null removes a key,
 * anything else replaces. Keys are the request's: only own members count
 * (a "constructor" key is not Object's), and "__proto__" is a key like any other.
 */
export function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const merged: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else setMember(merged, key, mergePatch(Object.hasOwn(merged, key) ? merged[key]! : null, value));
  }
  return merged;
}
