import { MemoryAuditLog } from '../../src/adapters/memory/memory-audit-log.js';
import { runAuditLogConformance } from './audit-log.js';

runAuditLogConformance({
  name: 'in memory',
  async create() {
    return new MemoryAuditLog();
  },
  async createBreakable() {
    const log = new MemoryAuditLog();
    // A closed log answers as a database that is gone.
    return { log, breakDatabase: () => log.close() };
  },
  async dispose() {},
});
