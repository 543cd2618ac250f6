import { expect } from 'chai';
import { filterViolation } from '../support/filters.js';
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
    expect(violation('type > "a"')).to.match(/supports only =/);
    expect(violation('type = "a')).to.match(/unterminated string/);
    expect(violation('type = "a" AND type = "b"')).to.match(/given twice/);
    expect(violation('type != "a"')).to.match(/!= is not supported/);
    expect(violation('type = train')).to.match(/double-quoted/);
  });
});
