import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { ERROR_BOUNDS, invalidArgument, jobNotFound, parentsNotFound, ProvenanceError, truncated, unavailable } from '../../src/domain/errors.js';
import { toServiceError } from '../../src/grpc/errors.js';
import { statusDetails } from '../support/grpc-client.js';
import { capturingLogger } from '../support/logs.js';

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

  it('replaces half a character in the message, which grpc-js could not send (its encodeURI throws) and would end the process over', () => {
    const { logger } = capturingLogger();
    const error = toServiceError(invalidArgument([{ field: 'filter', description: "unexpected character '\ud83c'" }]), '/m', logger);
    expect(error.details).to.equal("invalid request: filter: unexpected character '\ufffd'");
    expect(() => encodeURI(error.details)).not.to.throw();
    expect(toServiceError(invalidArgument([{ field: 'f', description: 'whole \u{1f600}' }]), '/m', logger).details).to.equal('invalid request: f: whole \u{1f600}');
  });

  /** What the status takes in the trailers: grpc-status-details-bin (base64) and grpc-message (as grpc-js encodes it). */
  const trailerBytes = (error: ReturnType<typeof toServiceError>) =>
    Buffer.from(error.metadata.get('grpc-status-details-bin')[0] as Buffer).toString('base64').length + encodeURI(error.details).length;

  it('lists the first violations only, counts the rest in ErrorInfo, and stays far below the 8 KiB clients accept', () => {
    const { logger } = capturingLogger();
    const violations = Array.from({ length: 3000 }, (_, i) => ({ field: `parent_job_ids[${i}]`, description: "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit" }));
    const error = toServiceError(invalidArgument(violations), '/m', logger);
    const details = statusDetails(error);
    const listed = details.badRequest!.fieldViolations;
    expect(listed.length).to.be.within(1, ERROR_BOUNDS.violations);
    expect(listed.map((v) => v.field)).to.deep.equal(violations.slice(0, listed.length).map((v) => v.field));
    expect(details.errorInfo!.metadata).to.deep.equal({ omittedFieldViolations: String(3000 - listed.length) });
    expect(error.details).to.match(/^invalid request: parent_job_ids\[0\]: must be .*\(and \d+ more\)$/);
    expect(trailerBytes(error)).to.be.below(5 * 1024);
  });

  it('cuts long texts, messages and lists of preconditions the same way, whole characters only', () => {
    const { logger } = capturingLogger();
    const wide = '好'.repeat(10_000);
    const worst = new ProvenanceError('INVALID_ARGUMENT', wide, 'X', {
      fieldViolations: Array.from({ length: 100 }, () => ({ field: wide, description: wide })),
      preconditionViolations: Array.from({ length: 100 }, () => ({ type: wide, subject: wide, description: wide })),
      resource: { resourceType: 'provenance.v1.Job', resourceName: `jobs/${wide}` },
    });
    const error = toServiceError(worst, '/m', logger);
    expect(trailerBytes(error)).to.be.below(6 * 1024);
    const details = statusDetails(error);
    for (const text of [error.details, details.badRequest!.fieldViolations[0]!.description, details.resourceInfo!.resourceName]) {
      expect(text).to.match(/^(jobs\/)?好+…$/);
    }
    const missing = toServiceError(parentsNotFound(Array.from({ length: 1000 }, (_, i) => `missing-parent-${i}`)), '/m', logger);
    expect(Number(statusDetails(missing).errorInfo!.metadata.omittedPreconditionViolations)).to.be.above(900);
    expect(Buffer.byteLength(missing.details)).to.be.at.most(ERROR_BOUNDS.messageBytes);
    expect(trailerBytes(missing)).to.be.below(5 * 1024);
  });

  it('truncates by UTF-8 bytes without splitting a character', () => {
    expect(truncated('short', 10)).to.equal('short');
    expect(truncated('abcdefghij', 6)).to.equal('abc…');
    expect(truncated('😀😀😀', 9)).to.equal('😀…');
  });
});
