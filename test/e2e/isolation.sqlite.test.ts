import { sqliteLane } from '../support/execution.js';
import { describeIsolation, isolationSize } from './isolation/suite.js';

describeIsolation(sqliteLane(), isolationSize({ recordedPerTenant: 40, probes: 1500 }));
