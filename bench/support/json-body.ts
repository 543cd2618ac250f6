/**
 * Reads a JSON object body as it streams in, without holding it: the REST
 * full view of a whole ancestry at 1,000,000 jobs is over 512 MiB of JSON,
 * more than one Node string can hold (`response.json()` threw "Cannot create
 * a string longer than 0x1fffffe8 characters"), so the bench counts what it
 * needs byte by byte instead. Answers how many elements the top-level array
 * member `arrayKey` has and the top-level scalar members' text (numbers,
 * booleans, strings without their quotes).
 */
export interface StreamedJsonObject {
  elements: number;
  scalars: Map<string, string>;
  bytes: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPENERS = new Set([0x7b, 0x5b]);
const CLOSERS = new Set([0x7d, 0x5d]);
const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

export async function readJsonObjectStream(body: AsyncIterable<Uint8Array>, arrayKey: string): Promise<StreamedJsonObject> {
  const decoder = new TextDecoder();
  const scalars = new Map<string, string>();
  let depth = 0;
  let inString = false;
  let escaped = false;
  let bytes = 0;
  let elements = 0;
  // Top-level state: the text of a string or scalar at depth 1, the member's key once its colon passed.
  let text: number[] = [];
  let key: string | undefined;
  let inArray = false;
  let expectElement = false;
  const endScalar = () => {
    if (key !== undefined && text.length > 0) scalars.set(key, decoder.decode(Uint8Array.from(text)).trim());
    text = [];
  };
  for await (const chunk of body) {
    bytes += chunk.length;
    for (const byte of chunk) {
      if (inString) {
        if (depth === 1) text.push(byte);
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) {
          inString = false;
          if (depth === 1) text.pop();
        }
        continue;
      }
      if (inArray && depth === 2 && expectElement && !SPACE.has(byte) && !CLOSERS.has(byte)) {
        elements++;
        expectElement = false;
      }
      if (byte === QUOTE) inString = true;
      else if (OPENERS.has(byte)) {
        if (depth === 1 && key === arrayKey && byte === 0x5b) {
          inArray = true;
          expectElement = true;
        }
        depth++;
      } else if (CLOSERS.has(byte)) {
        depth--;
        if (depth === 1) inArray = false;
        if (depth === 0) endScalar();
      } else if (depth === 1 && byte === COLON) {
        key = decoder.decode(Uint8Array.from(text));
        text = [];
      } else if (depth === 1 && byte === COMMA) {
        endScalar();
        key = undefined;
      } else if (depth === 2 && inArray && byte === COMMA) expectElement = true;
      else if (depth === 1 && !SPACE.has(byte)) text.push(byte);
    }
  }
  if (depth !== 0 || inString) throw new Error(`the JSON body ended inside a value after ${bytes} bytes`);
  return { elements, scalars, bytes };
}
