import { expect } from 'chai';
import { MongoBulkWriteError, MongoNetworkError, MongoNetworkTimeoutError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { ProvenanceError } from '../../src/domain/errors.js';
import { translateDriverError } from '../../src/adapters/mongo/errors.js';

const codeOf = (error: unknown) => (error instanceof ProvenanceError ? error.code : undefined);

describe('translateDriverError', () => {
  it('makes an unreachable database UNAVAILABLE without naming hosts', () => {
    const translated = translateDriverError(new MongoNetworkError('connect ECONNREFUSED 10.0.0.7:27017'));
    expect(codeOf(translated)).to.equal('UNAVAILABLE');
    expect((translated as Error).message).not.to.contain('10.0.0.7');
    expect(codeOf(translateDriverError(Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' })))).to.equal('UNAVAILABLE');
    expect(codeOf(translateDriverError(new MongoServerError({ message: 'not primary', code: 10107 })))).to.equal('UNAVAILABLE');
  });

  // insertMany wraps the error of a write that never reached a server; judged by the wrapper, it was INTERNAL.
  it('makes an insert that reached no server UNAVAILABLE, as the error it wraps', () => {
    const noServer = new MongoServerSelectionError('Server selection timed out after 1000 ms', {} as never);
    expect(codeOf(translateDriverError(new MongoBulkWriteError(noServer, {} as never)))).to.equal('UNAVAILABLE');
    expect(codeOf(translateDriverError(new MongoBulkWriteError(new MongoNetworkTimeoutError('connection 7 timed out'), {} as never)))).to.equal('UNAVAILABLE');
    const refused = new MongoBulkWriteError({ message: 'E11000 duplicate key', code: 11000, writeErrors: [] }, {} as never);
    expect(translateDriverError(refused)).to.equal(refused);
  });

  it('makes a lineage over the memory limit RESOURCE_EXHAUSTED', () => {
    const translated = translateDriverError(new MongoServerError({ message: '$graphLookup reached maximum memory consumption', code: 146 }));
    expect(codeOf(translated)).to.equal('RESOURCE_EXHAUSTED');
    expect((translated as ProvenanceError).reason).to.equal('LINEAGE_TOO_LARGE');
  });

  it('leaves every other error as it is', () => {
    const duplicate = new MongoServerError({ message: 'E11000 duplicate key', code: 11000 });
    expect(translateDriverError(duplicate)).to.equal(duplicate);
    const bug = new TypeError('x is undefined');
    expect(translateDriverError(bug)).to.equal(bug);
  });
});
