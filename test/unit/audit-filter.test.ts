import { expect } from 'chai';
import { filterViolation } from '../support/filters.js';
import { parseAuditFilter } from '../../src/domain/audit-filter.js';

const violation = (filter: string) => filterViolation(parseAuditFilter, filter);

describe('parseAuditFilter', () => {
  it('reads every field and every time bound', () => {
    expect(
      parseAuditFilter(
        'subject = "alice@example.com" AND job_id = "train-42" AND time > "2026-01-01T00:00:00Z" ' +
          'AND time >= "2026-01-02T00:00:00.250Z" AND time < "2026-02-01T00:00:00+01:00" AND time <= "2026-02-02T00:00:00Z"',
      ),
    ).to.deep.equal({
      subject: 'alice@example.com',
      jobId: 'train-42',
      time: {
        gt: new Date('2026-01-01T00:00:00Z'),
        gte: new Date('2026-01-02T00:00:00.250Z'),
        lt: new Date('2026-01-31T23:00:00Z'),
        lte: new Date('2026-02-02T00:00:00Z'),
      },
    });
  });

  it('reads time = as both inclusive bounds', () => {
    const at = new Date('2026-03-04T05:06:07.089Z');
    expect(parseAuditFilter('time = "2026-03-04T05:06:07.089Z"')).to.deep.equal({ time: { gte: at, lte: at } });
  });

  it('takes escaped quotes and no spaces', () => {
    expect(parseAuditFilter('subject="a\\"b"AND job_id="j"')).to.deep.equal({ subject: 'a"b', jobId: 'j' });
  });

  it('is empty for an empty or blank filter', () => {
    expect(parseAuditFilter(undefined)).to.deep.equal({});
    expect(parseAuditFilter(' \t ')).to.deep.equal({});
  });

  it('explains what is wrong', () => {
    expect(violation('method = "x"')).to.match(/unknown field method; filterable: subject, job_id, time/);
    expect(violation('subject = "a" OR subject = "b"')).to.match(/expected AND at position 15/);
    expect(violation('subject = "a" AND')).to.match(/expected a field name at the end/);
    expect(violation('subject')).to.match(/expected an operator at the end/);
    expect(violation('subject "a"')).to.match(/expected an operator after subject at position 9/);
    expect(violation('subject = <')).to.match(/expected a value at position 11/);
    expect(violation('= "a"')).to.match(/expected a field name at position 1/);
    expect(violation('job_id > "a"')).to.match(/job_id supports only =/);
    expect(violation('subject = alice')).to.match(/subject takes a double-quoted string/);
    expect(violation('job_id = "a" AND job_id = "b"')).to.match(/job_id is given twice/);
    expect(violation('subject != "a"')).to.match(/!= is not supported/);
    expect(violation('subject = "a')).to.match(/unterminated string/);
    expect(violation('subject = "a" AND (time > "x")')).to.match(/unexpected character '\(' at position 19/);
    // Found by the fuzz suite: a '!' that is not '!=' was an internal error.
    expect(violation('status !d_i= 42')).to.match(/unexpected character '!' at position 8/);
    expect(violation('subject = "a" !')).to.match(/unexpected character '!' at position 15/);
  });

  it('refuses times that are not quoted RFC 3339, or not real', () => {
    expect(violation('time > "yesterday"')).to.match(/RFC 3339/);
    expect(violation('time > 2026-01-01T00:00:00Z')).to.match(/RFC 3339/);
    expect(violation('time > "2026-01-01"')).to.match(/RFC 3339/);
    expect(violation('time > "2026-13-01T00:00:00Z"')).to.match(/is not a valid time/);
    // Date would roll these over into the next day or month.
    for (const time of ['2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00-00:60']) {
      expect(violation(`time > "${time}"`)).to.match(/is not a valid time/);
    }
    for (const time of ['2024-02-29T00:00:00Z', '0004-02-29T00:00:00Z', '2026-12-31T23:59:59.999999999+23:59']) expect(() => parseAuditFilter(`time > "${time}"`)).to.not.throw();
  });

  it('refuses a time bound given twice, which would silently replace the first', () => {
    expect(violation('time > "2026-01-01T00:00:00Z" AND time > "2026-01-02T00:00:00Z"')).to.match(/time > is given twice/);
    expect(violation('time = "2026-01-01T00:00:00Z" AND time <= "2026-01-02T00:00:00Z"')).to.match(
      /time <= is given twice \(time = counts as both >= and <=\)/,
    );
  });

  it('treats fields named like Object members as unknown', () => {
    for (const field of ['constructor', '__proto__', 'toString']) {
      expect(violation(`${field} = "x"`)).to.match(new RegExp(`unknown field ${field}`));
    }
  });
});
