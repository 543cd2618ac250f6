import { MemoryEventLog, MemoryEventStream } from '../../src/adapters/memory/memory-event-log.js';
import { runEventLogConformance } from './event-log.js';

const streams = new Map<string, MemoryEventStream>();
let namespaces = 0;

runEventLogConformance({
  name: 'in memory',
  newNamespace: () => `memory-events-${++namespaces}`,
  async open(namespace, retention) {
    let stream = streams.get(namespace);
    if (!stream) streams.set(namespace, (stream = new MemoryEventStream()));
    return new MemoryEventLog(retention, stream);
  },
  async dispose() {
    streams.clear();
  },
});
