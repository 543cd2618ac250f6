#!/bin/sh
# Run in the folder of a Go module of your own (go.mod with go 1.17 or
# later): makes it require this client, and copies this module's require and
# replace lines into its go.mod, with the replace targets made absolute.
# replace lines apply only in the main module, and the go command builds
# offline only if the main module's go.mod also lists every module the
# build needs (README.md, "Use from your module").
set -eu
client=$(cd "$(dirname "$0")" && pwd)
go mod edit -require=example.com/provenance/clients/go@v0.0.0 -replace="example.com/provenance/clients/go=$client"
awk -v client="$client" '
  /^(require|replace) \($/ { block = $1; next }
  block != "" && /^\)$/ { block = ""; next }
  block == "require" && NF >= 2 && $1 !~ /^\/\// { print "-require=" $1 "@" $2 }
  block == "replace" && $2 == "=>" { target = $3; if (target ~ /^\.\//) target = client "/" substr(target, 3); print "-replace=" $1 "=" target }
' "$client/go.mod" | xargs go mod edit
