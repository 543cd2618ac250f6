import { fileURLToPath } from 'node:url';

/** The repository's root, from dist/test/support. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Debian's interpreter, the one that sees python3-grpcio (clients/python/README.md). */
export const PYTHON = '/usr/bin/python3';

/** What the go command needs to build the Go client offline from Debian's packages (clients/go/env.sh). */
export const GO_OFFLINE_ENV = { GO111MODULE: 'on', GOPROXY: 'off', GOSUMDB: 'off', GOFLAGS: '-mod=mod' };
