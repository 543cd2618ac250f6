/**
 * Loaded into a server the bench starts (node --expose-gc --import this file,
 * see heapProbeNodeOptions): on SIGUSR2 it forces two full garbage
 * collections and prints one line, `bench-heap-probe <n> {json}`, with the
 * heap used after them, the RSS and the resources the event loop holds.
 * This measures memory instead of sampling it: a reading after a forced
 * collection holds only what is still reachable. The server's code is not
 * changed; the leaks scenario reads the line from the server's output.
 */
export const HEAP_PROBE_MARK = 'bench-heap-probe';

export interface HeapReading {
  heapUsedBytes: number;
  rssBytes: number;
  /** process.getActiveResourcesInfo(): sockets, timers, handles the event loop keeps. */
  activeResources: number;
}

/** The node options that load the probe into a server. */
export function heapProbeNodeOptions(): string[] {
  return ['--expose-gc', '--import', import.meta.url];
}

/** The reading numbered n in a server's output, if it has been printed. */
export function parseHeapReading(output: string, n: number): HeapReading | undefined {
  const match = new RegExp(`${HEAP_PROBE_MARK} ${n} (\\{[^\\n]*\\})`).exec(output);
  return match ? (JSON.parse(match[1]!) as HeapReading) : undefined;
}

const collect = (globalThis as { gc?: () => void }).gc;
if (collect && process.argv.some((arg) => /main\.js$|worker\.js$/.test(arg))) {
  let readings = 0;
  process.on('SIGUSR2', () => {
    // Two passes: the first can leave objects whose finalizers free more on the second.
    collect();
    collect();
    const reading: HeapReading = { heapUsedBytes: process.memoryUsage().heapUsed, rssBytes: process.memoryUsage.rss(), activeResources: process.getActiveResourcesInfo().length };
    process.stdout.write(`${HEAP_PROBE_MARK} ${++readings} ${JSON.stringify(reading)}\n`);
  });
}
