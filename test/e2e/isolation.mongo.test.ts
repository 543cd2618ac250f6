import { mongoLane } from '../support/execution.js';
import { describeIsolation, isolationSize } from './isolation/suite.js';

// The emulator is slower than SQLite: a smaller world and fewer probes, unless a real server (MONGODB_URI) or the environment asks for more.
describeIsolation(mongoLane(), isolationSize(process.env.MONGODB_URI ? { recordedPerTenant: 40, probes: 1500 } : { recordedPerTenant: 20, probes: 500 }));
