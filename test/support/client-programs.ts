import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository's root, from dist/test/support. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Debian's interpreter, the one that sees python3-grpcio (clients/python/README.md). */
export const PYTHON = '/usr/bin/python3';

/** What the go command needs to build the Go client offline from Debian's packages (clients/go/env.sh). */
export const GO_OFFLINE_ENV = { GO111MODULE: 'on', GOPROXY: 'off', GOSUMDB: 'off', GOFLAGS: '-mod=mod' };

/**
 * How the repository's own Python tests run from clients/python without installing the package: the generated
 * modules' folder on PYTHONPATH (clients/python/README.md), no bytecode written into the repository.
 */
export const PYTHON_SOURCE_ENV = { PYTHONPATH: join(REPOSITORY_ROOT, 'clients/python/gen'), PYTHONDONTWRITEBYTECODE: '1' };
