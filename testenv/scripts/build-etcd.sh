#!/usr/bin/env bash
# Build etcd from the Go module proxy through a wrapper module (go install refuses etcd's
# replace directives; its requires already pin the sibling modules, so no replaces are needed).
# usage: build-etcd.sh VERSION OUTDIR
set -euo pipefail
ETCD_VERSION=$1
OUTDIR=$(realpath -m "$2")
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUTDIR"; cd "$WORK"
export CGO_ENABLED=0 GOFLAGS=-modcacherw
cat > go.mod <<MOD
module clusterpulse.local/etcdbuild

go 1.26.0

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}

tool go.etcd.io/etcd/server/v3
MOD
go mod tidy
go build -trimpath -ldflags "-s -w" -o "$OUTDIR/etcd" go.etcd.io/etcd/server/v3
"$OUTDIR/etcd" --version | head -1
