import { MemoryJobBoard, MemoryJobQueue } from '../../src/adapters/memory/memory-job-queue.js';
import { runJobQueueConformance } from './job-queue.js';

const boards = new Map<string, MemoryJobBoard>();
let namespaces = 0;

runJobQueueConformance({
  name: 'in memory',
  newNamespace: () => `memory-queue-${++namespaces}`,
  async open(namespace, { retries, backoffMs }) {
    let board = boards.get(namespace);
    if (!board) boards.set(namespace, (board = new MemoryJobBoard()));
    return new MemoryJobQueue({ retries, backoffMs }, board);
  },
  async dispose() {
    boards.clear();
  },
});
