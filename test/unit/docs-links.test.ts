import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { brokenLinks, headingAnchors, markdownFiles } from '../support/markdown-links.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('links between the documentation pages', () => {
  it('resolve, anchors included, in README.md, docs/ and every other markdown page of the project', () => {
    const files = markdownFiles(ROOT);
    expect(files.map((file) => file.slice(ROOT.length))).to.include.members(['README.md', 'docs/decisions.md', 'docs/grpcurl.md', 'clients/ts/README.md']);
    expect(brokenLinks(ROOT, files)).to.deep.equal([]);
  });

  it('names the anchors as GitHub does', () => {
    expect([...headingAnchors('# Design decisions\n## Graph export (issue #8)\n### `WatchEvents`: resume\n## Clients\n## Clients\n```\n## not a heading\n```\n')]).to.deep.equal([
      'design-decisions',
      'graph-export-issue-8',
      'watchevents-resume',
      'clients',
      'clients-1',
    ]);
  });

  it('reports a missing page, a missing heading and an anchor into a folder, and ignores links in code and to other sites', () => {
    const root = mkdtempSync(join(tmpdir(), 'provenance-links-'));
    try {
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'a.md'), '# A\n\n## Known part\n');
      writeFileSync(
        join(root, 'README.md'),
        [
          '[fine](docs/a.md#known-part) [self](#top) [folder](docs) [site](https://example.com/x.md)',
          '[gone](docs/b.md) [no heading](docs/a.md#unknown) [into a folder](docs#part)',
          '`[in code](nowhere.md)`',
          '```',
          '[in a block](nowhere.md)',
          '```',
          '# Top',
        ].join('\n'),
      );
      expect(brokenLinks(root, markdownFiles(root))).to.deep.equal([
        'README.md: docs/b.md (no such file)',
        'README.md: docs/a.md#unknown (no such heading)',
        'README.md: docs#part (an anchor into a file that is not markdown)',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
