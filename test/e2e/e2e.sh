#!/usr/bin/env bash
# End-to-end test of stackgen on a real Docker engine: one script, for CI and
# for people. It
#   1. runs scripts/setup.sh (Docker engine, compose, local Prometheus and
#      Alertmanager images, bin/stackgen),
#   2. `stackgen up` on examples/offline (Grafana disabled, no registry),
#      and again to check that an unchanged stack is left alone,
#   3. checks that a second stack on the same ports is refused (exit 5),
#   4. sends load with `stackgen load`,
#   5. asserts through the Prometheus HTTP API that every seed 000 dashboard
#      query returns data, that `stackgen status --output json` reports every
#      target up, and that the error-ratio alert fires,
#   6. `stackgen down`, `stackgen up` again, and checks that Prometheus still
#      has the samples from before,
#   7. repair and refusal: a killed container is brought back by `up` (exit
#      0); a bad alert template fails validate (exit 2); a rule Prometheus
#      refuses fails up (exit 1) naming the cause, and status then exits 7;
#      the fixed stack comes up again (exit 0, restarts before that up do not
#      count); models a + a-exporter fail up (exit 2) with nothing started;
#      external SMTP without its password fails up (exit 2) with nothing
#      started, and a changed password recreates Alertmanager with it,
#   8. always `stackgen down --volumes` on exit.
# Every wait is a bounded readiness loop, never a bare sleep. The deploy
# folder is a temporary directory: the repository is not touched.
#
# Environment: STACKGEN_E2E_SKIP_SETUP=1 skips step 1 (bin/stackgen and the
# images must exist); STACKGEN_E2E_KEEP=1 leaves the stack running.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SG="$ROOT/bin/stackgen"
STACK="$ROOT/examples/offline/stack.yaml"
WORK=$(mktemp -d /tmp/stackgen-e2e.XXXXXX)
DEPLOY="$WORK/deploy"
T_START=$(date +%s)

PASSED=0
FAILED=0
log() { printf 'e2e: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'e2e: PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'e2e: FAIL %s\n' "$*"; }

finish() {
	local rc=$?
	if [ "${STACKGEN_E2E_KEEP:-0}" != 1 ] && [ -x "$SG" ] && [ -f "$DEPLOY/compose.yaml" ]; then
		log "cleanup: stackgen down --volumes"
		"$SG" down -f "$STACK" -o "$DEPLOY" --volumes || true
	fi
	if [ -x "$SG" ] && [ -f "$WORK/secret-deploy/compose.yaml" ]; then
		"$SG" down -f "$WORK/secret.yaml" -o "$WORK/secret-deploy" --volumes >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
	[ "$FAILED" -gt 0 ] && rc=1
	printf 'e2e: %d passed, %d failed (%d s)\n' "$PASSED" "$FAILED" "$(($(date +%s) - T_START))"
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# fatal stops the test after a failed step the rest depends on.
fatal() {
	fail "$*"
	exit 1
}

# ---------------------------------------------------------------------------
if [ "${STACKGEN_E2E_SKIP_SETUP:-0}" != 1 ]; then
	log "setup"
	bash "$ROOT/scripts/setup.sh" || fatal "scripts/setup.sh"
fi
for tool in curl jq; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		log "installing $tool"
		apt-get install -y -qq "$tool" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; } || fatal "$tool is needed"
	fi
done
[ -x "$SG" ] || fatal "$SG missing (run scripts/setup.sh)"

PROM=http://127.0.0.1:9090

# prom_query, has_data, wait_query and SEED_QUERIES.
# shellcheck source=test/e2e/promquery.sh
source "$ROOT/test/e2e/promquery.sh"

# Negative controls: the check itself must refuse NaN, empty and up == 0.
has_data '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}' && fatal "has_data accepts NaN"
has_data '{"status":"success","data":{"resultType":"vector","result":[]}}' && fatal "has_data accepts an empty result"
has_data '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0"]}]}}' 1 && fatal "has_data accepts up == 0"
has_data '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.25"]}]}}' 1 || fatal "has_data refuses a value"

# ---------------------------------------------------------------------------
log "stackgen up (first start)"
t0=$(date +%s)
if "$SG" up -f "$STACK" -o "$DEPLOY" --timeout 4m; then
	pass "stackgen up: every service and target ready in $(($(date +%s) - t0)) s"
else
	fatal "stackgen up (exit $?)"
fi

log "stackgen up again (nothing changed)"
out=$("$SG" up -f "$STACK" -o "$DEPLOY" --timeout 2m 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
if [ "$rc" = 0 ] && grep -q 'compose: unchanged' <<<"$out" && ! grep -qE 'compose: .*(created|recreated)' <<<"$out"; then
	pass "second up leaves every container in place"
else
	fail "second up (exit $rc) recreated containers or failed"
fi

log "a second stack on the same ports is refused"
sed 's/^name: .*/name: e2e-port-clash/' "$STACK" >"$WORK/clash.yaml"
out=$("$SG" up -f "$WORK/clash.yaml" -o "$WORK/clash-deploy" --timeout 1m 2>&1)
rc=$?
if [ "$rc" = 5 ] && grep -q 'already in use' <<<"$out"; then
	pass "port clash: exit 5: $(grep -m1 'already in use' <<<"$out")"
else
	fail "port clash: exit $rc, want 5: $out"
fi
if [ -f "$WORK/clash-deploy/compose.yaml" ]; then
	"$SG" down -f "$WORK/clash.yaml" -o "$WORK/clash-deploy" --volumes >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------
log "load: 20 s at 20 requests/s, half of them invalid (fires the error-ratio alert)"
if "$SG" load -f "$STACK" --duration 20s --rate 20 --error-ratio 0.5 -q; then
	pass "stackgen load"
else
	# load exits 1 only when no request succeeded.
	fail "stackgen load (exit $?)"
fi

for entry in "${SEED_QUERIES[@]}"; do
	nz=0
	[ "${entry%%|*}" = "Target health" ] && nz=1
	wait_query "seed query ${entry%%|*}" "${entry#*|}" 60 "" "$nz"
done
wait_query "requests were counted" "sum(http_requests_total{$J}) > 0" 30

log "stackgen status --output json"
status=$("$SG" status -f "$STACK" -o "$DEPLOY" --output json)
rc=$?
up=$(grep -o '"targets_up": [0-9]*' <<<"$status" | grep -o '[0-9]*$')
total=$(grep -o '"targets_total": [0-9]*' <<<"$status" | grep -o '[0-9]*$')
if [ "$rc" = 0 ] && grep -q '"healthy": true' <<<"$status" && [ -n "$up" ] && [ "$up" = "$total" ] && [ "$total" -ge 3 ]; then
	pass "status: healthy, $up/$total targets up"
else
	fail "status (exit $rc): $status"
fi

# The example's high_error_ratio alert (threshold 0.2 over 1m, for 0s) must
# fire from the invalid half of the load, and status must show it.
deadline=$(($(date +%s) + 90))
while :; do
	status=$("$SG" status -f "$STACK" -o "$DEPLOY" --output json 2>/dev/null)
	if grep -q '"name": "high_error_ratio"' <<<"$status"; then
		pass "status lists the firing alert high_error_ratio"
		break
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		fail "alert high_error_ratio not firing within 90 s: $(curl -fsS -m 5 "$PROM/api/v1/alerts" 2>&1 | head -c 500)"
		break
	fi
	sleep 2
done

# Alertmanager must mail the firing alert to the stack's mail catcher
# (smtp.mode local), whose JSON API lists it with the alert in the subject.
MAIL=http://127.0.0.1:8025
deadline=$(($(date +%s) + 120))
while :; do
	msgs=$(curl -fsS -m 5 "$MAIL/api/messages" 2>/dev/null || true)
	if grep -Eq '"subject": ?"[^"]*high_error_ratio' <<<"$msgs"; then
		pass "alert email arrived in the mail catcher: $(grep -Eo '"subject": ?"[^"]*high_error_ratio[^"]*"' <<<"$msgs" | head -n 1)"
		break
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		fail "no email naming high_error_ratio in $MAIL/api/messages within 120 s: $(head -c 500 <<<"$msgs")"
		break
	fi
	sleep 2
done

# ---------------------------------------------------------------------------
T_BEFORE_DOWN=$(date +%s)
log "stackgen down (keeps volumes), then up again"
if "$SG" down -f "$STACK" -o "$DEPLOY"; then
	pass "stackgen down"
else
	fail "stackgen down (exit $?)"
fi
if curl -fsS -m 2 "$PROM/-/ready" >/dev/null 2>&1; then
	fail "Prometheus still answers after down"
else
	pass "Prometheus is gone after down"
fi
t0=$(date +%s)
if "$SG" up -f "$STACK" -o "$DEPLOY" --timeout 4m; then
	pass "stackgen up after down: ready in $(($(date +%s) - t0)) s"
else
	fatal "stackgen up after down (exit $?)"
fi
wait_query "samples from before down survive (requests counted at $T_BEFORE_DOWN)" \
	"sum(http_requests_total{$J}) > 0" 30 "$T_BEFORE_DOWN"
wait_query "earlier scrape history survives (up samples in the minute before down)" \
	"count_over_time(up{$J}[1m]) > 1" 30 "$T_BEFORE_DOWN"

# ---------------------------------------------------------------------------
log "a killed container is repaired by up"
docker kill offline-demo-exporter-1 >/dev/null 2>&1 || fail "docker kill offline-demo-exporter-1"
out=$("$SG" up -f "$STACK" -o "$DEPLOY" --timeout 2m 2>&1)
rc=$?
state=$(docker inspect -f '{{.State.Status}}' offline-demo-exporter-1 2>&1)
if [ "$rc" = 0 ] && [ "$state" = running ]; then
	pass "up after docker kill: exit 0, exporter $state"
else
	fail "up after docker kill: exit $rc, exporter $state: $out"
fi

log "a bad alert template fails validate (exit 2)"
cat >"$WORK/template.yaml" <<'YAML'
name: sgtest-template
models:
  - name: demo
    kind: demo
grafana:
  enabled: false
alerting:
  engine: prometheus
alerts:
  - name: high_error_ratio
    summary: '{{ .Invalid'
YAML
out=$("$SG" validate -f "$WORK/template.yaml" 2>&1)
rc=$?
if [ "$rc" = 2 ] && grep -q 'summary' <<<"$out"; then
	pass "bad template: validate exit 2: $(head -n1 <<<"$out")"
else
	fail "bad template: validate exit $rc, want 2: $out"
fi

log "a rule Prometheus refuses fails up (exit 1) with the cause"
# Quoted metric names are Prometheus 3 syntax: stackgen's parser accepts the
# expression, the stack's Prometheus 2.42 refuses the rules file.
awk '{print} /^alerts:/ {print "  - name: quoted_name\n    kind: custom\n    expr: '"'"'sum(rate({\"http_requests_total\"}[1m])) > 1000'"'"'"}' \
	"$STACK" >"$WORK/refused.yaml"
out=$("$SG" up -f "$WORK/refused.yaml" -o "$DEPLOY" --timeout 2m 2>&1)
rc=$?
if [ "$rc" = 1 ] && grep -q 'refused' <<<"$out" && grep -q 'quoted_name' <<<"$out"; then
	pass "refused rules: up exit 1 naming the cause: $(grep -m1 'quoted_name' <<<"$out" | cut -c1-200)"
else
	fail "refused rules: up exit $rc, want 1 naming quoted_name: $out"
fi
"$SG" status -f "$WORK/refused.yaml" -o "$DEPLOY" >"$WORK/status.txt" 2>&1
rc=$?
if [ "$rc" = 7 ] && grep -q 'refused its latest configuration' "$WORK/status.txt"; then
	pass "status after the refused configuration: exit 7"
else
	fail "status after the refused configuration: exit $rc (want 7, saying it refused its latest configuration): $(cat "$WORK/status.txt")"
fi
out=$("$SG" up -f "$STACK" -o "$DEPLOY" --timeout 2m 2>&1)
rc=$?
if [ "$rc" = 0 ]; then
	pass "fixed stack: up exit 0"
else
	fail "fixed stack: up exit $rc: $out"
fi

log "models a + a-exporter: exit 2, nothing started"
cat >"$WORK/clash-names.yaml" <<'YAML'
name: sgtest-names
models:
  - name: a
    kind: demo
  - name: a-exporter
    kind: demo
grafana:
  enabled: false
alerting:
  engine: prometheus
YAML
out=$("$SG" up -f "$WORK/clash-names.yaml" -o "$WORK/names-deploy" --timeout 1m 2>&1)
rc=$?
n=$(docker ps -aq --filter label=com.docker.compose.project=sgtest-names | wc -l)
if [ "$rc" = 2 ] && [ "$n" = 0 ] && [ ! -e "$WORK/names-deploy/compose.yaml" ]; then
	pass "models a + a-exporter: up exit 2, nothing written or started: $(grep -m1 'a-exporter' <<<"$out")"
else
	fail "models a + a-exporter: up exit $rc (want 2), $n container(s): $out"
fi


log "secrets: external SMTP without its password starts nothing; a changed password reaches the container"
cat >"$WORK/secret.yaml" <<'YAML'
name: sgtest-secret
models:
  - name: demo
    kind: demo
exporter:
  port: 18000
prometheus:
  image: stackgen/prometheus:2.42.0
  port: 19090
grafana:
  enabled: false
alerting:
  engine: prometheus
  alertmanager_image: stackgen/alertmanager:0.25.0
  alertmanager_port: 19093
smtp:
  host: smtp.example.com:587
  user: alerts@example.com
  from_address: alerts@example.com
  recipients: [ops@example.com]
YAML
SECRET_DEPLOY="$WORK/secret-deploy"
secret_in_container() { docker cp sgtest-secret-alertmanager-1:/run/secrets/smtp_password - 2>/dev/null | tar -xO 2>/dev/null; }
out=$(env -u STACKGEN_SMTP_PASSWORD "$SG" up -f "$WORK/secret.yaml" -o "$SECRET_DEPLOY" --timeout 2m 2>&1)
rc=$?
n=$(docker ps -aq --filter label=com.docker.compose.project=sgtest-secret | wc -l)
if [ "$rc" = 2 ] && [ "$n" = 0 ] && grep -q STACKGEN_SMTP_PASSWORD <<<"$out"; then
	pass "missing SMTP password: up exit 2, nothing started"
else
	fail "missing SMTP password: up exit $rc (want 2), $n container(s): $out"
fi
if STACKGEN_SMTP_PASSWORD=first-e2e-pass "$SG" up -f "$WORK/secret.yaml" -o "$SECRET_DEPLOY" --timeout 2m >"$WORK/secret1.log" 2>&1 &&
	[ "$(secret_in_container)" = first-e2e-pass ]; then
	out=$(STACKGEN_SMTP_PASSWORD=second-e2e-pass "$SG" up -f "$WORK/secret.yaml" -o "$SECRET_DEPLOY" --timeout 2m 2>&1)
	rc=$?
	got=$(secret_in_container)
	if [ "$rc" = 0 ] && [ "$got" = second-e2e-pass ] && grep -q 'recreated alertmanager' <<<"$out"; then
		pass "changed SMTP password: alertmanager recreated with the new secret"
	else
		fail "changed SMTP password: exit $rc, secret in the container ${got:+is set but }${got:-missing}: $out"
	fi
	if grep -rq 'e2e-pass' "$SECRET_DEPLOY"; then
		fail "the SMTP password landed in a rendered file: $(grep -rl 'e2e-pass' "$SECRET_DEPLOY")"
	else
		pass "no secret in the rendered files"
	fi
else
	fail "secret stack up: $(cat "$WORK/secret1.log")"
fi
"$SG" down -f "$WORK/secret.yaml" -o "$SECRET_DEPLOY" --volumes >/dev/null 2>&1 || true

exit 0
