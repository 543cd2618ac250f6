import { expect } from 'chai';
import { ProvenanceError } from '../../src/domain/errors.js';

/** The description of the INVALID_ARGUMENT violation on `filter` that parsing text must end in. */
export function filterViolation(parse: (text: string) => unknown, text: string): string {
  try {
    parse(text);
  } catch (error) {
    expect(error).to.be.instanceOf(ProvenanceError);
    const { code, details } = error as ProvenanceError;
    expect(code).to.equal('INVALID_ARGUMENT');
    expect(details.fieldViolations?.[0]?.field).to.equal('filter');
    return details.fieldViolations![0]!.description;
  }
  throw new Error(`expected ${text} to be refused`);
}
