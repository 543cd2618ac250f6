import { expect } from 'chai';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { ProvenanceError } from '../../src/domain/errors.js';
import { translateDriverError } from '../../src/store/mongo/errors.js';

const codeOf = (error: unknown) => (error instanceof ProvenanceError ? error.code : undefined);

describe('translateDriverError', () => {
  it('makes an unreachable database UNAVAILABLE without naming hosts', () => {
    const translated = translateDriverError(new MongoNetworkError('connect ECONNREFUSED 10.0.0.7:27017'));
    expect(codeOf(translated)).to.equal('UNAVAILABLE');
    expect((translated as Error).message).not.to.contain('10.0.0.7');
    expect(codeOf(translateDriverError(Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' })))).to.equal('UNAVAILABLE');
    expect(codeOf(translateDriverError(new MongoServerError({ message: 'not primary', code: 10107 })))).to.equal('UNAVAILABLE');
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
