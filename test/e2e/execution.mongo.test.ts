import { mongoLane } from '../support/execution.js';
import { describeExecution } from './execution-suite.js';

describeExecution(mongoLane);
