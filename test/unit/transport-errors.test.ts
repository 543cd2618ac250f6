import { Writable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { pino } from 'pino';
import { invalidArgument, jobNotFound, unavailable } from '../../src/domain/errors.js';
import { toServiceError } from '../../src/transport/errors.js';
import { statusDetails } from '../support/grpc-client.js';

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('toServiceError', () => {
  it('masks an unexpected error behind an id that the log keeps with the details', () => {
    const { logger, lines } = capturingLogger();
    const error = toServiceError(new Error('connection string mongodb://admin:secret@db leaked'), '/provenance.v1.ProvenanceService/GetJob', logger);
    expect(error.code).to.equal(status.INTERNAL);
    expect(error.details).not.to.contain('secret');
    const errorId = /error id ([0-9a-f]{16})/.exec(error.details)?.[1];
    expect(errorId).to.be.a('string');
    expect(statusDetails(error).errorInfo).to.deep.equal({ reason: 'INTERNAL', domain: 'provenance.v1', metadata: { errorId } });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ errorId, method: '/provenance.v1.ProvenanceService/GetJob', msg: 'internal error' });
    expect(JSON.stringify(lines[0])).to.contain('secret');
  });

  it('keeps the status, message and details of a deliberate error, and logs only unavailability', () => {
    const { logger, lines } = capturingLogger();
    const error = toServiceError(invalidArgument([{ field: 'type', description: 'required' }]), '/m', logger);
    expect(error.code).to.equal(status.INVALID_ARGUMENT);
    expect(statusDetails(error).badRequest?.fieldViolations).to.deep.equal([{ field: 'type', description: 'required', reason: '', localizedMessage: undefined }]);
    expect(statusDetails(toServiceError(jobNotFound('j1'), '/m', logger)).resourceInfo?.resourceName).to.equal('jobs/j1');
    const retry = statusDetails(toServiceError(unavailable('down', 1500), '/m', logger)).retryInfo;
    expect(retry?.retryDelay).to.deep.equal({ seconds: '1', nanos: 500_000_000 });
    expect(lines.map((line) => [line.level, line.msg, line.method])).to.deep.equal([[40, 'down', '/m']]);
  });
});
