# Source this file (`. clients/go/env.sh`) before running the go command on
# this module: it builds offline from Debian's packages, with no module proxy
# and no checksum database (README.md explains why).
export GO111MODULE=on GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod
