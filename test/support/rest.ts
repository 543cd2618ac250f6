/** A REST answer: the status, the headers, the body as sent and as JSON. */
export interface RestAnswer {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

/** One call of the REST gateway at httpAddress; a body that is a string is sent as it is, anything else as JSON. */
export async function restCall(httpAddress: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RestAnswer> {
  const response = await fetch(`http://${httpAddress}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as unknown };
}

/** One server-sent event: its id (the event's cursor) and its data, parsed. */
export interface SentEvent {
  id?: string;
  data: unknown;
}

/**
 * A server-sent events stream read with fetch (GET /events): next(n) resolves
 * with the next n events; close() ends it. An answer other than 200 is an
 * error before the stream started: its body is read with response.text().
 */
export async function openEventStream(httpAddress: string, path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(`http://${httpAddress}${path}`, { headers, signal: controller.signal });
  const reader = response.ok ? response.body!.pipeThrough(new TextDecoderStream()).getReader() : undefined;
  let buffered = '';
  const next = async (count: number) => {
    if (!reader) throw new Error(`the answer is ${response.status}, not an event stream`);
    const events: SentEvent[] = [];
    while (events.length < count) {
      const end = buffered.indexOf('\n\n');
      if (end < 0) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        buffered += value;
        continue;
      }
      const lines = buffered.slice(0, end).split('\n');
      buffered = buffered.slice(end + 2);
      const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      const data = field('data');
      if (data !== undefined) events.push({ ...(field('id') ? { id: field('id') } : {}), data: JSON.parse(data) as unknown });
    }
    return events;
  };
  return { response, next, close: () => controller.abort() };
}
