/**
 * What a conformance suite opens from its harness: call inside the suite's
 * describe. Everything opened is closed, then the harness disposed, once,
 * after all the suite's tests.
 */
export function harnessResources<T extends { close(): Promise<void> }>(harness: { create(): Promise<T>; dispose(): Promise<void> }) {
  const opened: T[] = [];
  async function open(): Promise<T> {
    const resource = await harness.create();
    opened.push(resource);
    return resource;
  }
  /** One fresh resource for the tests of a block, which keep apart by their own ids and tenants. */
  function use(): () => T {
    let resource: T | undefined;
    before(async () => {
      resource = await open();
    });
    return () => resource!;
  }
  after(async () => {
    try {
      for (const resource of opened) await resource.close();
    } finally {
      await harness.dispose();
    }
  });
  /** Closes this one too, with the others: for resources the suite got some other way. */
  function adopt(resource: T): void {
    opened.push(resource);
  }
  return { open, use, adopt };
}
