#!/usr/bin/env bash
# End-to-end test of shareable bundles (issue 12) on a real Docker engine:
#   1. `stackgen up` the offline stack (as a copy named sgbundle-e2e on its
#      own ports, so it can run beside test/e2e/e2e.sh) and send traffic,
#   2. `stackgen bundle --images all --data` (twice without --data: the same
#      bytes), `stackgen bundle inspect`,
#   3. a bundle with one changed byte: `up --bundle` exits 2, nothing is
#      extracted or started,
#   4. `stackgen down --volumes`, remove the stack's images,
#   5. `stackgen up --bundle` (no registry, no Go, no source folder): the
#      images come back with their IDs, and the samples sent before the
#      bundle are in Prometheus again: every seed 000 query returns data at
#      the time the bundle was taken,
#   6. always `down --volumes` and remove what the test created.
#
# Environment: STACKGEN_E2E_SKIP_SETUP=1 skips scripts/setup.sh;
# STACKGEN_BIN=path runs another stackgen binary (default bin/stackgen);
# STACKGEN_BUNDLE_E2E_KEEP_SHARED_IMAGES=1 removes in step 4 only the images
# this test created (the stackgen image of a new binary), not those present
# before it started (stackgen/prometheus, stackgen/alertmanager: for a
# machine others use; CI removes every image of the stack).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SG="${STACKGEN_BIN:-$ROOT/bin/stackgen}"
WORK=$(mktemp -d /tmp/sgbundle-e2e.XXXXXX)
SRC="$WORK/src"
STACK="$SRC/stack.yaml"
RECV="$WORK/recv"
PROJECT=sgbundle-e2e
PROM=http://127.0.0.1:29190
T_START=$(date +%s)

PASSED=0
FAILED=0
log() { printf 'bundle-e2e: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'bundle-e2e: PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'bundle-e2e: FAIL %s\n' "$*"; }
fatal() {
	fail "$*"
	exit 1
}

IMAGES_BEFORE=$(docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | sort)
finish() {
	local rc=$?
	for f in "$RECV/stack.yaml" "$STACK"; do
		[ -f "$f" ] && "$SG" down -f "$f" --volumes >/dev/null 2>&1
	done
	# The stackgen image this test built (absent when it started).
	if [ -n "${SGIMG:-}" ] && ! grep -qxF "$SGIMG" <<<"$IMAGES_BEFORE"; then
		docker rmi "$SGIMG" >/dev/null 2>&1
	fi
	rm -rf "$WORK"
	[ "$FAILED" -gt 0 ] && rc=1
	printf 'bundle-e2e: %d passed, %d failed (%d s)\n' "$PASSED" "$FAILED" "$(($(date +%s) - T_START))"
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

if [ "${STACKGEN_E2E_SKIP_SETUP:-0}" != 1 ]; then
	log "setup"
	bash "$ROOT/scripts/setup.sh" || fatal "scripts/setup.sh"
	IMAGES_BEFORE=$(docker images --format '{{.Repository}}:{{.Tag}}' | sort)
fi
for tool in curl jq; do
	command -v "$tool" >/dev/null 2>&1 || apt-get install -y -qq "$tool" >/dev/null 2>&1 || fatal "$tool is needed"
done
[ -x "$SG" ] || fatal "$SG missing (run scripts/setup.sh)"

# The offline example under another name and ports.
mkdir -p "$SRC"
sed -e "s/^name: offline/name: $PROJECT/" -e 's/host_port: 5005/host_port: 25105/' \
	-e 's|^  image: stackgen/prometheus:2.42.0|&\n  port: 29190|' \
	-e 's|^  alertmanager_image: stackgen/alertmanager:0.25.0|&\n  alertmanager_port: 29193|' \
	-e 's|^  mode: local|&\n  web_port: 28125|' \
	"$ROOT/examples/offline/stack.yaml" >"$STACK"
printf 'exporter:\n  port: 28100\n' >>"$STACK"

# prom_query, has_data, wait_query and SEED_QUERIES.
# shellcheck source=test/e2e/promquery.sh
source "$ROOT/test/e2e/promquery.sh"
has_data '{"status":"success","data":{"resultType":"vector","result":[]}}' && fatal "has_data accepts an empty result"

# ---------------------------------------------------------------------------
log "stackgen up $PROJECT, then traffic"
"$SG" up -f "$STACK" --timeout 4m || fatal "stackgen up (exit $?)"
"$SG" load -f "$STACK" --duration 15s --rate 20 --error-ratio 0.2 -q || fail "stackgen load (exit $?)"
for entry in "${SEED_QUERIES[@]}"; do
	nz=0
	[ "${entry%%|*}" = "Target health" ] && nz=1
	wait_query "before the bundle: seed query ${entry%%|*}" "${entry#*|}" 60 "" "$nz"
done
T_SENT=$(date +%s)
wait_query "requests counted before the bundle" "sum(http_requests_total{$J}) > 0" 30 "$T_SENT"

# ---------------------------------------------------------------------------
log "stackgen bundle"
"$SG" bundle -f "$STACK" --images all -o "$WORK/a.stackgen.tgz" >/dev/null 2>&1 || fail "bundle --images all"
"$SG" bundle -f "$STACK" --images all -o "$WORK/b.stackgen.tgz" >/dev/null 2>&1 || fail "bundle --images all (again)"
if cmp -s "$WORK/a.stackgen.tgz" "$WORK/b.stackgen.tgz"; then
	pass "two bundles of the same stack are byte-identical ($(stat -c %s "$WORK/a.stackgen.tgz") bytes)"
else
	fail "two bundles of the same stack differ"
fi
rm -f "$WORK/a.stackgen.tgz" "$WORK/b.stackgen.tgz"
BUNDLE="$WORK/out/$PROJECT.stackgen.tgz"
mkdir -p "$WORK/out"
t0=$(date +%s)
"$SG" bundle -f "$STACK" --images all --data -o "$BUNDLE" || fatal "bundle --images all --data (exit $?)"
pass "bundle --images all --data in $(($(date +%s) - t0)) s: $(stat -c %s "$BUNDLE") bytes"
manifest=$("$SG" bundle inspect --output json "$BUNDLE") || fatal "bundle inspect"
"$SG" bundle inspect "$BUNDLE" | sed 's/^/    /'
SGIMG=$(jq -r '.images[].tags[] | select(startswith("stackgen:"))' <<<"$manifest")
n_img=$(jq '.images | length' <<<"$manifest")
n_vol=$(jq '.volumes | length' <<<"$manifest")
[ "$n_img" = 3 ] && [ "$n_vol" = 2 ] && pass "manifest lists 3 images and 2 volumes" || fail "manifest lists $n_img images, $n_vol volumes; want 3 and 2"
if tar -xOzf "$BUNDLE" 'stack/*' 2>/dev/null | grep -q 'STACKGEN_SMTP_PASSWORD=.\|hunter'; then fail "a secret value is in the bundle"; fi

log "a changed byte is refused before anything starts"
"$SG" down -f "$STACK" --volumes >/dev/null 2>&1 || fail "down --volumes"
cp "$BUNDLE" "$WORK/bad.stackgen.tgz"
size=$(stat -c %s "$BUNDLE")
printf '\x42' | dd of="$WORK/bad.stackgen.tgz" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
out=$("$SG" up --bundle "$WORK/bad.stackgen.tgz" -o "$WORK/bad" 2>&1)
rc=$?
running=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
if [ "$rc" = 2 ] && [ ! -e "$WORK/bad" ] && [ "$running" = 0 ] && grep -q 'refused' <<<"$out"; then
	pass "tampered bundle: exit 2, nothing extracted or started: $(tail -n1 <<<"$out")"
else
	fail "tampered bundle: exit $rc, folder $(ls -d "$WORK/bad" 2>/dev/null), $running containers: $out"
fi

# ---------------------------------------------------------------------------
log "remove the stack's images"
for img in $(jq -r '.images[].tags[]' <<<"$manifest"); do
	if [ "${STACKGEN_BUNDLE_E2E_KEEP_SHARED_IMAGES:-0}" = 1 ] && grep -qxF "$img" <<<"$IMAGES_BEFORE"; then
		log "kept $img (it was there before this test; STACKGEN_BUNDLE_E2E_KEEP_SHARED_IMAGES=1)"
		continue
	fi
	docker rmi "$img" >/dev/null || fail "docker rmi $img"
	docker image inspect "$img" >/dev/null 2>&1 && fail "$img is still present"
done
docker volume ls -q | grep -q "^${PROJECT}_" && fail "volumes of $PROJECT survived down --volumes"

log "stackgen up --bundle"
t0=$(date +%s)
(cd "$WORK/out" && "$SG" up --bundle "$PROJECT.stackgen.tgz" --timeout 4m) || fatal "up --bundle (exit $?)"
pass "up --bundle: ready in $(($(date +%s) - t0)) s"
RECV="$WORK/out/$PROJECT"
[ -f "$RECV/stack.yaml" ] && pass "extracted into $RECV" || fail "no $RECV/stack.yaml"
for row in $(jq -r '.images[] | .id + "=" + .tags[0]' <<<"$manifest"); do
	got=$(docker image inspect --format '{{.Id}}' "${row#*=}" 2>/dev/null)
	[ "$got" = "${row%%=*}" ] && pass "image ${row#*=} loaded with its ID" || fail "image ${row#*=}: $got, want ${row%%=*}"
done
wait_query "samples sent before the bundle are back (requests at $T_SENT)" "sum(http_requests_total{$J}) > 0" 30 "$T_SENT"
for entry in "${SEED_QUERIES[@]}"; do
	nz=0
	[ "${entry%%|*}" = "Target health" ] && nz=1
	wait_query "restored history: seed query ${entry%%|*} at $T_SENT" "${entry#*|}" 30 "$T_SENT" "$nz"
done
