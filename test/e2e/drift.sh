#!/usr/bin/env bash
# End-to-end test of drift monitoring (issue #11) on a real Docker engine:
# the offline demo stack (Prometheus + Alertmanager + mail catcher, no
# Grafana) with drift on the demo model, a 2-minute window and the drift
# alerts' `for` lowered to 30 s so the test runs in about 7 minutes. It
#   1. `stackgen up` on a temporary stack.yaml (its own ports, so it can run
#      beside the main e2e stack); the live check passes on the fresh stack
#      (drift panels wait for traffic),
#   2. calm load at 1 request/s for 150 s (a window of ~240 rows, just above
#      min_samples 200): no drift alert pending or firing, while the rows in
#      the window do reach min_samples (so the alert could have fired),
#   3. calm load at 20 requests/s: every feature's PSI < 0.1, no drift alert,
#   4. load with `--shift age=+2sd`: feature_drift fires for feature age and
#      for no other feature, and its email (naming model, feature, PSI,
#      effective threshold, rows, at least one bin that moved with its
#      expected and actual share, and the link to the PSI graph) arrives in the
#      mail catcher; prediction_drift may follow (older inputs change the
#      demo model's answers) and is logged, not judged,
#   5. always `stackgen down --volumes` on exit.
# Every wait is a bounded polling loop. The repository is not touched.
#
# Environment: STACKGEN_E2E_SKIP_SETUP=1 skips scripts/setup.sh (the images
# and the binary must exist); STACKGEN_BIN picks the stackgen binary
# (default bin/stackgen; it must be a static Linux build, as setup makes
# it); STACKGEN_E2E_KEEP=1 leaves the stack running.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SG=${STACKGEN_BIN:-$ROOT/bin/stackgen}
WORK=$(mktemp -d /tmp/stackgen-drift.XXXXXX)
STACK="$WORK/stack.yaml"
DEPLOY="$WORK/deploy"
T_START=$(date +%s)
LOAD_PID=""

PASSED=0
FAILED=0
log() { printf 'drift-e2e: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'drift-e2e: PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'drift-e2e: FAIL %s\n' "$*"; }

stop_load() {
	if [ -n "$LOAD_PID" ]; then
		kill "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
		LOAD_PID=""
	fi
}

finish() {
	local rc=$?
	stop_load
	if [ "${STACKGEN_E2E_KEEP:-0}" != 1 ] && [ -x "$SG" ] && [ -f "$DEPLOY/compose.yaml" ]; then
		log "cleanup: stackgen down --volumes"
		"$SG" down -f "$STACK" -o "$DEPLOY" --volumes >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
	[ "$FAILED" -gt 0 ] && rc=1
	printf 'drift-e2e: %d passed, %d failed (%d s)\n' "$PASSED" "$FAILED" "$(($(date +%s) - T_START))"
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

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
	command -v "$tool" >/dev/null 2>&1 || fatal "$tool is needed (apt-get install -y $tool)"
done
[ -x "$SG" ] || fatal "$SG missing (run scripts/setup.sh)"

PROM_PORT=19090
MAIL=http://127.0.0.1:18025
PROM=http://127.0.0.1:$PROM_PORT
# shellcheck source=test/e2e/promquery.sh
source "$ROOT/test/e2e/promquery.sh"

cat >"$STACK" <<YAML
name: e2e-drift
models:
  - name: demo
    kind: demo
    drift: {window: 2m, min_samples: 200}
exporter: {port: 18000}
prometheus:
  image: stackgen/prometheus:2.42.0
  port: $PROM_PORT
  scrape_interval: 5s
  evaluation_interval: 5s
grafana: {enabled: false}
alerting:
  engine: prometheus
  alertmanager_image: stackgen/alertmanager:0.25.0
  alertmanager_port: 19093
alerts:
  # The defaults hold 10m; the test lowers it to keep the run short.
  - {name: feature_drift, for: 30s}
  - {name: prediction_drift, for: 30s}
smtp: {mode: local, web_port: 18025}
YAML

M='model="demo"'
FEATURES=7 # the demo baseline's features

# value QUERY: the first result's value, or "" when there is none.
value() {
	prom_query "$1" | jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}

# drift_alerts: "alertname/feature/state" of every drift alert now pending or firing.
drift_alerts() {
	prom_query "ALERTS{alertname=~\"feature_drift|prediction_drift\", $M}" |
		jq -r '.data.result[] | "\(.metric.alertname)/\(.metric.feature // "-")/\(.metric.alertstate)"' 2>/dev/null | sort -u | tr '\n' ' '
}

# Negative controls of the helpers.
has_data '{"status":"success","data":{"resultType":"vector","result":[]}}' && fatal "has_data accepts an empty result"
[ "$(jq -r '.data.result[0].value[1] // empty' <<<'{"data":{"result":[]}}')" = "" ] || fatal "value of an empty result is not empty"

# ---------------------------------------------------------------------------
log "stackgen up (drift on the demo model, window 2m)"
t0=$(date +%s)
out=$("$SG" up -f "$STACK" -o "$DEPLOY" --timeout 4m 2>&1)
rc=$?
printf '%s\n' "$out" | tail -n 15 | sed 's/^/    /'
[ "$rc" = 0 ] || fatal "stackgen up (exit $rc)"
pass "stackgen up with drift: ready and live-checked in $(($(date +%s) - t0)) s"
[ -f "$DEPLOY/exporter/demo.baseline.json" ] && [ -f "$DEPLOY/prometheus/rules/drift-demo.yml" ] ||
	fail "deploy folder lacks exporter/demo.baseline.json or prometheus/rules/drift-demo.yml"
status=$("$SG" status -f "$STACK" -o "$DEPLOY" --output json 2>&1)
if jq -e '[(.panels // [])[] | select(.panel == "Feature drift (PSI)" and .result == "no_traffic")] | length > 0' <<<"$status" >/dev/null 2>&1; then
	pass "status lists the PSI panel as waiting for traffic on the fresh stack"
else
	fail "status does not list the PSI panel as waiting: $(head -c 600 <<<"$status")"
fi
wait_query "the exporter exports the baseline shares from start" "count(model_feature_baseline_ratio{$M}) > 0" 30
[ -z "$(value "count(model_feature:psi:window{$M})")" ] &&
	pass "no PSI series before traffic (no rows in the window: never NaN)" ||
	fail "PSI series exist before any traffic"

# ---------------------------------------------------------------------------
log "calm load at 1 request/s for 150 s: no drift alert"
"$SG" load -f "$STACK" --rate 1 --duration 150s -c 1 -q >"$WORK/load-slow.txt" 2>&1 &
LOAD_PID=$!
seen="" max_rows=0
deadline=$(($(date +%s) + 155))
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$LOAD_PID" 2>/dev/null; do
	a=$(drift_alerts)
	[ -n "$a" ] && seen="$seen $a"
	r=$(value "min(model_feature:rows:window{$M})")
	[ -n "$r" ] && max_rows=$(jq -n --arg a "$r" --arg b "$max_rows" '[($a|tonumber),($b|tonumber)] | max | floor')
	sleep 5
done
wait "$LOAD_PID" 2>/dev/null
LOAD_PID=""
thr=$(value "max(model_feature:psi_threshold:window{$M})")
if [ -z "$seen" ]; then
	pass "1 request/s: no drift alert pending or firing (up to $max_rows rows in the window; largest effective threshold ${thr:-?})"
else
	fail "1 request/s: drift alerts seen: $seen"
fi
if [ "$max_rows" -ge 200 ]; then
	pass "1 request/s: the window reached min_samples ($max_rows rows ≥ 200), so an alert was possible"
else
	fail "1 request/s: only $max_rows rows in the window (< min_samples 200): the no-alert check proves nothing"
fi

# ---------------------------------------------------------------------------
log "calm load at 20 requests/s for 40 s: every PSI < 0.1, no drift alert"
"$SG" load -f "$STACK" --rate 20 --duration 40s -q >"$WORK/load-calm.txt" 2>&1 || fail "calm load (exit $?): $(tail -n 5 "$WORK/load-calm.txt")"
sleep 6 # one more scrape and rule evaluation of the last rows
n=$(value "count(model_feature:psi:window{$M})")
calm=$(value "count(model_feature:psi:window{$M} < 0.1)")
worst=$(prom_query "topk(1, model_feature:psi:window{$M})" | jq -r '.data.result[0] | "\(.metric.feature) \(.value[1])"' 2>/dev/null)
if [ "$n" = "$FEATURES" ] && [ "$calm" = "$FEATURES" ]; then
	pass "calm: all $n features have PSI < 0.1 (largest: $worst)"
else
	fail "calm: $calm of $n features (want $FEATURES) have PSI < 0.1 (largest: $worst)"
fi
a=$(drift_alerts)
[ -z "$a" ] && pass "calm: no drift alert" || fail "calm: drift alerts: $a"
status=$("$SG" status -f "$STACK" -o "$DEPLOY" --output json 2>&1)
rc=$?
drift_queries=$(jq '[(.panels // [])[] | select((.panel // "") | test("drift|Share per bin|Prediction mix|Missing and out-of-range"))] | length' <<<"$status" 2>/dev/null)
still=$(jq -r '[(.panels // [])[] | select((.panel // "") | test("drift|Share per bin|Prediction mix|Missing and out-of-range")) | select(.result != "ok") | "\(.panel) (\(.result))"] | unique | join(", ")' <<<"$status" 2>/dev/null)
if [ "$rc" = 0 ] && [ "${drift_queries:-0}" -ge 20 ] && [ -z "$still" ]; then
	pass "status after traffic: healthy, all $drift_queries Data drift panel queries return data"
else
	fail "status after traffic (exit $rc): $drift_queries drift panel queries, not ok: ${still:-none}"
fi

# ---------------------------------------------------------------------------
log "shifted load (--shift age=+2sd) at 20 requests/s: feature_drift fires for age only"
"$SG" load -f "$STACK" --rate 20 --duration 240s --shift age=+2sd -q >"$WORK/load-shift.txt" 2>&1 &
LOAD_PID=$!
fired="" others="" pred=""
deadline=$(($(date +%s) + 200))
while :; do
	a=$(drift_alerts)
	for x in $a; do
		case "$x" in
		feature_drift/age/firing) fired=1 ;;
		feature_drift/age/*) ;;
		feature_drift/*) others="$others $x" ;;
		# Older inputs change the demo model's answers: the predicted-class
		# mix may drift too. That is the model reacting, not a false alarm.
		prediction_drift/*) pred="$x" ;;
		esac
	done
	[ -n "$fired" ] && break
	[ "$(date +%s)" -ge "$deadline" ] && break
	sleep 5
done
psi_age=$(value "model_feature:psi:window{$M, feature=\"age\"}")
thr_age=$(value "model_feature:psi_threshold:window{$M, feature=\"age\"}")
if [ -n "$fired" ]; then
	pass "feature_drift fires for age (PSI $psi_age > effective threshold $thr_age) after $(($(date +%s) - deadline + 200)) s of shifted load"
else
	fail "feature_drift for age not firing within 200 s (PSI ${psi_age:-none}, threshold ${thr_age:-none}; alerts: $(drift_alerts))"
fi
others=$(tr ' ' '\n' <<<"$others" | sort -u | tr '\n' ' ')
if [ -z "${others// /}" ]; then
	pass "feature_drift for no other feature pending or firing"
else
	fail "feature_drift pending or firing for other features: $others"
fi
log "prediction_drift during the shift: ${pred:-not pending} (predicted-class PSI $(value "model_prediction:psi:window{$M}"), threshold $(value "model_prediction:psi_threshold:window{$M}"))"

deadline=$(($(date +%s) + 120))
while :; do
	msgs=$(curl -fsS -m 5 "$MAIL/api/messages" 2>/dev/null || true)
	id=$(jq -r '[.[] | select(.subject | test("feature_drift"))][0].id // empty' <<<"$msgs" 2>/dev/null)
	if [ -n "$id" ]; then
		# Lists cut bodies at 4 KiB; the message itself has the whole text.
		mail=$(curl -fsS -m 5 "$MAIL/api/messages/$id" 2>/dev/null)
		text=$(jq -r '.text' <<<"$mail" 2>/dev/null)
		summary=$(grep -o 'model demo: feature age drifted: PSI [0-9.]* above its effective threshold [0-9.]* ([0-9]* rows[^)]*)' <<<"$text" | head -n 1)
		# At least one bin that moved, with its numbers, e.g. "01 [25,30):
		# expected 10.2%, actual 0% (PSI term 0.706)" (humanizePercentage may
		# write small shares with an SI prefix: "500m%").
		pct='[0-9.e+-]+[a-zµ]?%'
		bin=$(grep -oE "Bins that moved most: [^;]*: expected $pct, actual $pct \\(PSI term [0-9.]+\\)" <<<"$text" | head -n 1)
		# Without Grafana the link is the Prometheus graph of the feature PSI.
		link=$(grep -oE 'Panel: https?://[^ ]*/graph\?g0\.expr=model_feature%3Apsi%3Awindow' <<<"$text" | head -n 1)
		if [ -n "$summary" ] && [ -n "$bin" ] && [ -n "$link" ]; then
			pass "feature_drift email arrived: $(jq -r .subject <<<"$mail"): $summary; ${bin#Bins that moved most: }; $link"
		else
			fail "feature_drift email does not name model demo, feature age, PSI, threshold, rows, a bin that moved (expected vs actual) and the PSI graph (summary '${summary}', bin '${bin}', link '${link}'): $(head -c 1500 <<<"$text")"
		fi
		break
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		fail "no feature_drift email in $MAIL/api/messages within 120 s: $(head -c 400 <<<"$msgs")"
		break
	fi
	sleep 3
done
stop_load
