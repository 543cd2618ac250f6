/** JSON values as they travel through the domain (payloads, outputs, metadata). */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Adds key to object as data, even "__proto__", which assignment would take as the object's prototype instead. */
/** Whether a member at any depth, inside arrays too, has a key that passes test: a walk that only reads, so that a value holding none is not copied. */
export function hasKeyAnywhere(value: JsonValue, test: (key: string) => boolean): boolean {
  if (Array.isArray(value)) return value.some((item) => hasKeyAnywhere(item, test));
  if (!isJsonObject(value)) return false;
  for (const key of Object.keys(value)) {
    if (test(key) || hasKeyAnywhere(value[key]!, test)) return true;
  }
  return false;
}

export function setMember(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
