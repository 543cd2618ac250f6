import type { JsonObject, JsonValue } from './json.js';
import { isJsonObject } from './json.js';

/** RFC 7386 JSON Merge Patch: objects merge recursively, null removes a key, anything else replaces. */
export function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const merged: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = mergePatch(merged[key] ?? null, value);
  }
  return merged;
}
