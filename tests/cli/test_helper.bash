# Shared setup for the CLI tests: bin/ on PATH, a scratch directory per test,
# and the bats-support/bats-assert helpers when installed.
bats_require_minimum_version 1.5.0

QPIPE_TOP=${QPIPE_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
QPIPE_BIN=${QPIPE_BIN:-$QPIPE_TOP/bin}
PATH="$QPIPE_BIN:$PATH"
FIXTURES="$QPIPE_TOP/tests/fixtures"
SHARED="$QPIPE_TOP/../shared"
EXAMPLE="$QPIPE_TOP/examples/fashion-mnist"

for lib in /usr/lib/bats/bats-support /usr/lib/bats/bats-assert /usr/lib/bats-support /usr/lib/bats-assert; do
	[ -f "$lib/load.bash" ] && load "$lib/load.bash"
done

setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/qpipe.XXXXXX")
	cd "$TMP" || return 1
}

teardown() {
	cd / && rm -rf "$TMP"
}

# Debian's python3 (the first python3 on PATH may be another interpreter).
PY=/usr/bin/python3
