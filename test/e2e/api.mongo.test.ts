import { startMongoLane, type MongoLane } from '../support/mongo-lane.js';
import { startServer } from '../support/server-process.js';
import { TEST_LIMITS, describeApi } from './api-suite.js';

let lane: MongoLane | undefined;

describeApi({
  name: 'MongoDB',
  async start() {
    lane = await startMongoLane();
    return startServer({ ...TEST_LIMITS, MONGODB_URI: lane.uri, PROVENANCE_MONGODB_DATABASE: lane.newDatabaseName() });
  },
  dispose: async () => lane?.stop(),
});
