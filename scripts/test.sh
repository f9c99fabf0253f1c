#!/usr/bin/env bash
# The README's test command: static checks, unit tests with the race
# detector, then the end-to-end tests on a real Docker engine (the stack,
# the evidence report, data drift, shareable bundles).
#   bash scripts/test.sh            everything
#   STACKGEN_SKIP_E2E=1 bash scripts/test.sh   without the end-to-end test
# The end-to-end test needs what scripts/setup.sh installs (it runs it).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

step() { printf '\n== %s\n' "$*"; }
FAILED=()
# check NAME CMD...: runs a step, records a failure and goes on, so one run
# shows every broken step.
check() {
	local name=$1
	shift
	step "$name"
	if ! "$@"; then
		FAILED+=("$name")
		printf '== FAILED: %s\n' "$name"
	fi
}

gofmt_clean() {
	local files unformatted
	files=$(git ls-files -co --exclude-standard '*.go' 2>/dev/null) || files=$(find . -name '*.go' -not -path './.git/*')
	# shellcheck disable=SC2086
	unformatted=$(gofmt -l $files)
	if [ -n "$unformatted" ]; then
		printf 'not gofmt-clean:\n%s\n' "$unformatted"
		return 1
	fi
}

# What the tests run against (idempotent; seconds once installed): Docker,
# compose, the local images, promtool/amtool/alertmanager, pandas, chromium,
# a real kube-apiserver. Without it a test that needs a missing tool skips
# (or fails with STACKGEN_REQUIRE_TOOLS=1, as in CI).
check "setup (scripts/setup.sh with STACKGEN_SETUP_TESTS=1)" env STACKGEN_SETUP_TESTS=1 bash scripts/setup.sh
check "gofmt" gofmt_clean
check "go vet ./..." go vet ./...
check "go test -race ./..." go test -race -count=1 ./...
if [ "${STACKGEN_SKIP_E2E:-0}" = 1 ]; then
	step "end-to-end test skipped (STACKGEN_SKIP_E2E=1)"
else
	check "end-to-end test (test/e2e/e2e.sh)" bash test/e2e/e2e.sh
	# e2e.sh ran scripts/setup.sh; the next two use its images and binary.
	check "end-to-end report test (test/e2e/report.sh)" bash test/e2e/report.sh
	# Drift on the demo model: calm load raises no alert, shifted load fires
	# feature_drift for that feature only and mails it (~4.5 min).
	check "end-to-end drift test (test/e2e/drift.sh)" env STACKGEN_E2E_SKIP_SETUP=1 bash test/e2e/drift.sh
	# Last: it removes the stack's images and loads them back from a bundle.
	check "end-to-end bundle test (test/e2e/bundle.sh)" env STACKGEN_E2E_SKIP_SETUP=1 bash test/e2e/bundle.sh
fi

if [ ${#FAILED[@]} -gt 0 ]; then
	printf '\n== test.sh: %d step(s) failed: %s\n' "${#FAILED[@]}" "$(IFS=,; echo "${FAILED[*]}")"
	exit 1
fi
printf '\n== test.sh: all steps passed\n'
