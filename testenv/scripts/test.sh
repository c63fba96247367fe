#!/usr/bin/env bash
# `make test`: install and build what the tests need (cached outside the repository), start every
# service in a private RUN_DIR, run the whole test suite with the race detector against them, and
# stop every process it started, by PID, even when the tests fail.
# env: GO_TEST_FLAGS (extra flags for go test, e.g. "-run TestX"), PKGS (default ./...)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export RUN_DIR=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/clusterpulse-test.XXXXXX")}
. "$here/lib.sh"
t0=$(date +%s)
"$here/build-all.sh"
echo "== setup (install/build) took $(( $(date +%s) - t0 )) s"
trap 'FAST_STOP=1 "$here/down.sh"' EXIT
"$here/up.sh"
# shellcheck disable=SC1091
. "$RUN_DIR/env"
echo "== services up $(( $(date +%s) - t0 )) s after start"
cd "$root"
# shellcheck disable=SC2086
go test -race -timeout 25m ${GO_TEST_FLAGS:-} ${PKGS:-./...}
