import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/config.js';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).to.deep.include({
      grpcAddress: '127.0.0.1:50051',
      storage: { type: 'sqlite', path: './data/provenance.db' },
      redisUrl: 'redis://127.0.0.1:6379',
      maxLineageDepth: 100,
      maxLineageNodes: 100_000,
      maxStreamLineageNodes: 10_000_000,
      batchSize: 1000,
      maxParents: 1000,
      maxBatchParents: 10_000,
      maxPayloadBytes: 1_048_576,
    });
    expect(config.httpAddress).to.equal('127.0.0.1:8080');
    expect(config.events.maxSubscriptionsPerPrincipal).to.equal(100);
    expect(config.volatileKeys).to.include.members(['timestamp', 'createdAt', 'updatedAt', 'requestedAt']);
  });

  it('reads each tenant\'s cache salt from a JSON object, strictly (issue #16 item 5)', () => {
    expect(loadConfig({}).execution.tenantCacheSalts).to.deep.equal(new Map());
    expect(loadConfig({ PROVENANCE_CACHE_SALTS: '{"acme": "2026-12-05", "lab": "v2"}' }).execution.tenantCacheSalts).to.deep.equal(
      new Map([['acme', '2026-12-05'], ['lab', 'v2']]),
    );
    const shape = 'PROVENANCE_CACHE_SALTS: must be a JSON object of tenant to salt, e.g. {"acme": "2026-12-05"}';
    expect(refusal({ PROVENANCE_CACHE_SALTS: 'acme=v2' })).to.equal(shape);
    expect(refusal({ PROVENANCE_CACHE_SALTS: '["v2"]' })).to.equal(shape);
    expect(refusal({ PROVENANCE_CACHE_SALTS: '{"acme": 2}' })).to.equal(
      'PROVENANCE_CACHE_SALTS: the salt of tenant "acme" must be 1 to 128 printable ASCII characters without spaces',
    );
    expect(refusal({ PROVENANCE_CACHE_SALTS: '{"acme": "two words"}' })).to.contain('the salt of tenant "acme"');
    expect(refusal({ PROVENANCE_CACHE_SALTS: `{"acme": "${'x'.repeat(129)}"}` })).to.contain('the salt of tenant "acme"');
    expect(refusal({ PROVENANCE_CACHE_SALTS: '{"": "v2"}' })).to.equal('PROVENANCE_CACHE_SALTS: each tenant must be 1 to 256 characters');
  });

  it('lets a batch take at least the parents of one record', () => {
    expect(loadConfig({ PROVENANCE_MAX_PARENTS: '20000' })).to.deep.include({ maxParents: 20_000, maxBatchParents: 20_000 });
    expect(loadConfig({ PROVENANCE_MAX_PARENTS: '10', PROVENANCE_MAX_BATCH_PARENTS: '10' })).to.deep.include({ maxParents: 10, maxBatchParents: 10 });
    expect(refusal({ PROVENANCE_MAX_PARENTS: '2000', PROVENANCE_MAX_BATCH_PARENTS: '1000' })).to.equal('PROVENANCE_MAX_BATCH_PARENTS: must be between 2000 and 10000000, got 1000');
  });

  it('uses MongoDB when MONGODB_URI is set, with the database named in the URI', () => {
    expect(loadConfig({ MONGODB_URI: 'mongodb://db:27017/lineage?replicaSet=rs0' }).storage).to.deep.equal({
      type: 'mongodb',
      uri: 'mongodb://db:27017/lineage?replicaSet=rs0',
      database: 'lineage',
    });
    expect(loadConfig({ MONGODB_URI: 'mongodb://db', PROVENANCE_STORAGE_TYPE: 'sqlite' }).storage.type).to.equal('sqlite');
  });

  it('names the variable of a bad value', () => {
    expect(refusal({ PROVENANCE_BATCH_SIZE: '0' })).to.equal('PROVENANCE_BATCH_SIZE: must be between 1 and 100000, got 0');
    expect(refusal({ PROVENANCE_MAX_PAYLOAD_BYTES: '1.5' })).to.match(/^PROVENANCE_MAX_PAYLOAD_BYTES: must be a whole number/);
    expect(refusal({ PROVENANCE_STORAGE_TYPE: 'postgres' })).to.match(/^PROVENANCE_STORAGE_TYPE: must be one of sqlite, mongodb/);
    expect(refusal({ PROVENANCE_STORAGE_TYPE: 'mongodb' })).to.match(/^MONGODB_URI: required/);
    expect(refusal({ MONGODB_URI: 'http://db' })).to.match(/^MONGODB_URI: must start with mongodb:\/\//);
    expect(refusal({ PROVENANCE_GRPC_ADDRESS: 'localhost' })).to.match(/^PROVENANCE_GRPC_ADDRESS: must be host:port/);
    expect(refusal({ REDIS_URL: 'localhost:6379' })).to.match(/^REDIS_URL: must be a redis:\/\//);
    expect(refusal({ PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '0' })).to.equal('PROVENANCE_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: must be between 1 and 1000000, got 0');
    expect(refusal({ PROVENANCE_VOLATILE_KEYS: 'a,,b' })).to.match(/^PROVENANCE_VOLATILE_KEYS: must be a comma-separated list/);
    expect(refusal({ PROVENANCE_REDACT_KEYS: 'password,*' })).to.match(/^PROVENANCE_REDACT_KEYS: "\*" names no key/);
  });

  it('switches the HTTP listener off with "off", and takes port 0 or IPv6 for it', () => {
    expect(loadConfig({ PROVENANCE_HTTP_ADDRESS: 'off' }).httpAddress).to.equal(undefined);
    expect(loadConfig({ PROVENANCE_HTTP_ADDRESS: '127.0.0.1:0' }).httpAddress).to.equal('127.0.0.1:0');
    expect(loadConfig({ PROVENANCE_HTTP_ADDRESS: '[::1]:9090' }).httpAddress).to.equal('[::1]:9090');
    expect(loadConfig({ PROVENANCE_HTTP_ADDRESS: '  ' }).httpAddress).to.equal('127.0.0.1:8080');
    expect(refusal({ PROVENANCE_HTTP_ADDRESS: '8080' })).to.match(/^PROVENANCE_HTTP_ADDRESS: must be host:port/);
    expect(refusal({ PROVENANCE_HTTP_ADDRESS: 'OFF' })).to.match(/^PROVENANCE_HTTP_ADDRESS: must be host:port/);
    expect(refusal({ PROVENANCE_HTTP_ADDRESS: '127.0.0.1:70000' })).to.match(/^PROVENANCE_HTTP_ADDRESS: must be host:port/);
  });

  it('gives a worker no metrics listener unless PROVENANCE_WORKER_METRICS_ADDRESS names one', () => {
    expect(loadConfig({}).workerMetricsAddress).to.equal(undefined);
    expect(loadConfig({ PROVENANCE_WORKER_METRICS_ADDRESS: 'off' }).workerMetricsAddress).to.equal(undefined);
    expect(loadConfig({ PROVENANCE_WORKER_METRICS_ADDRESS: '  ' }).workerMetricsAddress).to.equal(undefined);
    expect(loadConfig({ PROVENANCE_WORKER_METRICS_ADDRESS: '127.0.0.1:9464' }).workerMetricsAddress).to.equal('127.0.0.1:9464');
    expect(refusal({ PROVENANCE_WORKER_METRICS_ADDRESS: '9464' })).to.match(/^PROVENANCE_WORKER_METRICS_ADDRESS: must be host:port/);
  });

  it('accepts an IPv6 address', () => {
    expect(loadConfig({ PROVENANCE_GRPC_ADDRESS: '[::1]:0' }).grpcAddress).to.equal('[::1]:0');
  });
});
