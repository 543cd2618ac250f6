import { readFileSync } from 'node:fs';

/** package.json, two folders above the compiled platform/ (dist/src/platform). */
const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);
/** Written by `npm run build` (git rev-parse HEAD, or "unknown" outside a git checkout), so that no git is needed at run time. */
const BUILD_COMMIT = new URL('../../build-commit.txt', import.meta.url);

/** The version (package.json) and the git commit of the running build; "unknown" for what cannot be read. */
export function buildInfo(): { version: string; commit: string } {
  return { version: readOr(() => (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version), commit: readOr(() => readFileSync(BUILD_COMMIT, 'utf8').trim()) };
}

function readOr(read: () => string): string {
  try {
    return read() || 'unknown';
  } catch {
    return 'unknown';
  }
}
