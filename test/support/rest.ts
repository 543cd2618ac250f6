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
