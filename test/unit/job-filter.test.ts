import { expect } from 'chai';
import { filterViolation } from '../support/filters.js';
import { MAX_FILTER_COMPARISONS, MAX_FILTER_LENGTH } from '../../src/domain/filter-syntax.js';
import { parseJobFilter } from '../../src/domain/job-filter.js';

const violation = (filter: string) => filterViolation(parseJobFilter, filter);

describe('parseJobFilter', () => {
  it('reads every supported field', () => {
    expect(
      parseJobFilter(
        'type = "train" AND status = SUCCEEDED AND provider.id = "openai" AND provider.model = "gpt" AND provider.version = "1" ' +
          'AND labels.team = "ml" AND labels.env = "prod" AND definition_hash = "abc" ' +
          'AND create_time >= "2026-01-01T00:00:00Z" AND create_time < "2026-02-01T00:00:00.5+01:00"',
      ),
    ).to.deep.equal({
      type: 'train',
      status: 'SUCCEEDED',
      providerId: 'openai',
      providerModel: 'gpt',
      providerVersion: '1',
      labels: { team: 'ml', env: 'prod' },
      definitionHash: 'abc',
      createdAt: { gte: new Date('2026-01-01T00:00:00Z'), lt: new Date('2026-01-31T23:00:00.500Z') },
    });
  });

  it('accepts the full enum name and escaped quotes', () => {
    expect(parseJobFilter('status=JOB_STATUS_FAILED AND type="a\\"b"')).to.deep.equal({ status: 'FAILED', type: 'a"b' });
  });

  it('is empty for an empty or blank filter', () => {
    expect(parseJobFilter(undefined)).to.deep.equal({});
    expect(parseJobFilter('   ')).to.deep.equal({});
  });

  it('explains what is wrong', () => {
    expect(violation('colour = "red"')).to.match(/unknown field colour/);
    expect(violation('type = "a" OR type = "b"')).to.match(/expected AND/);
    expect(violation('type = "a" AND')).to.match(/expected a field name at the end/);
    expect(violation('status = DONE')).to.match(/unknown status DONE/);
    expect(violation('create_time > "yesterday"')).to.match(/RFC 3339/);
    expect(violation('create_time > "2026-02-30T00:00:00Z"')).to.match(/is not a valid time/);
    expect(violation('type > "a"')).to.match(/supports only =/);
    expect(violation('type = "a')).to.match(/unterminated string/);
    expect(violation('type = "a" AND type = "b"')).to.match(/given twice/);
    expect(violation('type != "a"')).to.match(/!= is not supported/);
    expect(violation('type = train')).to.match(/double-quoted/);
  });

  it('treats fields named like Object members as unknown, and label keys named so as label keys', () => {
    for (const field of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(violation(`${field} = "x"`)).to.match(new RegExp(`unknown field ${field}`));
    }
    expect(parseJobFilter('labels.constructor = "a" AND labels.tostring = "b"')).to.deep.equal({ labels: { constructor: 'a', tostring: 'b' } });
    expect(violation('labels.constructor = "a" AND labels.constructor = "b"')).to.match(/labels.constructor is given twice/);
  });

  const labelComparisons = (count: number) => Array.from({ length: count }, (_, i) => `labels.k${i} = "v"`).join(' AND ');

  it(`takes up to ${MAX_FILTER_COMPARISONS} comparisons and ${MAX_FILTER_LENGTH} characters, and refuses more`, () => {
    expect(Object.keys(parseJobFilter(labelComparisons(MAX_FILTER_COMPARISONS)).labels!)).to.have.length(MAX_FILTER_COMPARISONS);
    expect(violation(labelComparisons(MAX_FILTER_COMPARISONS + 1))).to.equal(`has more than ${MAX_FILTER_COMPARISONS} comparisons`);
    // The shortest comparisons, within the length limit: the count is what refuses them.
    const terse = Array.from({ length: 1000 }, () => 'type="t"').join(' AND ');
    expect(terse.length).to.be.below(MAX_FILTER_LENGTH);
    expect(violation(terse)).to.equal(`has more than ${MAX_FILTER_COMPARISONS} comparisons`);
    const longest = `type = "${'t'.repeat(MAX_FILTER_LENGTH - 9)}"`;
    expect(longest).to.have.length(MAX_FILTER_LENGTH);
    expect(parseJobFilter(longest).type).to.have.length(MAX_FILTER_LENGTH - 9);
    expect(violation(`${longest} `)).to.equal(`is ${MAX_FILTER_LENGTH + 1} characters long; the limit is ${MAX_FILTER_LENGTH}`);
  });

  it('fits the largest filter that can match a job (64 labels of the longest keys and values, and every other field)', () => {
    const labels = Array.from({ length: 64 }, (_, i) => `labels.${'k'.repeat(60)}${String(i).padStart(3, '0')} = "${'v'.repeat(63)}"`);
    const others = [
      `type = "${'t'.repeat(128)}"`,
      'status = JOB_STATUS_SUCCEEDED',
      ...['id', 'model', 'version'].map((field) => `provider.${field} = "${'p'.repeat(256)}"`),
      `definition_hash = "${'d'.repeat(64)}"`,
      ...['>', '>=', '<', '<='].map((op) => `create_time ${op} "2026-01-01T00:00:00.000000000+00:00"`),
    ];
    const filter = [...labels, ...others].join(' AND ');
    expect(filter.length).to.be.below(MAX_FILTER_LENGTH);
    expect(Object.keys(parseJobFilter(filter).labels!)).to.have.length(64);
  });
});
