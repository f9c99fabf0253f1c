#!/usr/bin/env bash
# End-to-end test of `stackgen report` on a real Docker engine:
#   1. builds stackgen (static) into a private folder,
#   2. brings up the offline example as a private project (own name and
#      ports, so it runs beside the demo stack and e2e.sh),
#   3. sends 60 s of load with half the requests invalid (--error-ratio 0.5),
#      which fires high_error_ratio and mails it to the mail catcher,
#   4. runs `stackgen report --from -10m` and checks the page: data in every
#      seed 000 panel (the overview dashboard, seed 000's queries verbatim)
#      and the model dashboard's process row, every image present, the firing
#      high_error_ratio rule and its history, and its email, and every panel
#      placed on the dashboards' 24-column grid,
#   5. always `stackgen down --volumes` on exit.
#
# Environment: STACKGEN_E2E_KEEP=1 leaves the stack and the report.
#
# `report.sh --check-page INDEX.HTML RECIPIENT BODY_TEXT` runs only the
# firing-history and email checks on a page (no Docker); the report
# package's tests run it on a page made from fake data, and on pages with
# the history or the email cut, which must fail.
set -uo pipefail

# history_lists PAGE ALERT MODEL: the firing history table (after the
# "Firing history" heading, so not the rules table above it) has a firing
# row for ALERT/MODEL with its From and To times.
history_lists() {
	local ts='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}'
	sed -n '/<h3>Firing history/,/<h2 id="emails">/p' "$1" |
		grep -Eq "<tr><td>$2</td><td>$3</td><td class=\"firing\">firing</td><td>$ts</td><td>$ts</td></tr>"
}

# email_shows PAGE SUBJECT_WORD RECIPIENT BODY_TEXT: the emails section
# has a message whose subject names SUBJECT_WORD, sent to RECIPIENT, whose
# body holds BODY_TEXT (as the page escapes it).
email_shows() {
	local msg
	msg=$(sed -n '/<h2 id="emails">/,$p' "$1" |
		awk -v w="$2" '!on && /^<h3>/ && index($0, w) { on = 1 } on { print } on && /<\/pre>/ { exit }')
	[ -n "$msg" ] &&
		grep -qF "<tr><th>To</th><td>$3" <<<"$msg" &&
		sed -n '/<pre>/,/<\/pre>/p' <<<"$msg" | grep -qF -- "$4"
}

if [ "${1:-}" = --check-page ]; then
	[ $# = 4 ] || {
		echo "usage: $0 --check-page INDEX.HTML RECIPIENT BODY_TEXT" >&2
		exit 2
	}
	rc=0
	history_lists "$2" high_error_ratio demo || {
		echo "no firing history row for high_error_ratio/demo"
		rc=1
	}
	email_shows "$2" high_error_ratio "$3" "$4" || {
		echo "no high_error_ratio email to $3 with '$4' in its body"
		rc=1
	}
	exit "$rc"
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/stackgen-e2e-report.XXXXXX)
SG="$WORK/stackgen"
STACK="$WORK/stack.yaml"
DEPLOY="$WORK/deploy"
OUT="$WORK/report"
T_START=$(date +%s)
PASSED=0
FAILED=0
log() { printf 'e2e-report: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'e2e-report: PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'e2e-report: FAIL %s\n' "$*"; }
fatal() {
	fail "$*"
	exit 1
}
finish() {
	local rc=$?
	if [ "${STACKGEN_E2E_KEEP:-0}" != 1 ]; then
		if [ -x "$SG" ] && [ -f "$DEPLOY/compose.yaml" ]; then
			log "cleanup: stackgen down --volumes"
			"$SG" down -f "$STACK" -o "$DEPLOY" --volumes >/dev/null 2>&1 || true
		fi
		rm -rf "$WORK"
	else
		log "kept: $WORK (report: $OUT/index.html)"
	fi
	[ "$FAILED" -gt 0 ] && rc=1
	printf 'e2e-report: %d passed, %d failed (%d s)\n' "$PASSED" "$FAILED" "$(($(date +%s) - T_START))"
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

log "build stackgen"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$SG" ./cmd/stackgen) || fatal "go build"

# The offline example (examples/offline/stack.yaml) with its own name and ports.
cat >"$STACK" <<'YAML'
name: e2e-report
models:
  - name: demo
    kind: demo
    host_port: 15105
    exporter_port: 18100
prometheus:
  image: stackgen/prometheus:2.42.0
  port: 19190
  scrape_interval: 5s
  evaluation_interval: 5s
grafana:
  enabled: false
alerting:
  engine: prometheus
  alertmanager_image: stackgen/alertmanager:0.25.0
  alertmanager_port: 19193
alerts:
  - name: high_error_ratio
    threshold: 0.2
    window: 1m
    for: 0s
smtp:
  mode: local
  web_port: 18125
YAML
MAIL=http://127.0.0.1:18125

log "stackgen up"
"$SG" up -f "$STACK" -o "$DEPLOY" --timeout 4m || fatal "stackgen up (exit $?)"
pass "stackgen up"

log "load: 60 s at 20 requests/s, half of them invalid"
"$SG" load -f "$STACK" --duration 60s --rate 20 --error-ratio 0.5 -q || fail "stackgen load (exit $?)"

log "waiting for the high_error_ratio email"
deadline=$(($(date +%s) + 150))
until curl -fsS -m 5 "$MAIL/api/messages" 2>/dev/null | grep -q 'high_error_ratio'; do
	[ "$(date +%s)" -ge "$deadline" ] && fatal "no high_error_ratio email within 150 s"
	sleep 2
done
pass "the alert email arrived"

log "stackgen report --from -10m"
if path=$("$SG" report -f "$STACK" --deploy-dir "$DEPLOY" --from -10m -o "$OUT"); then
	pass "stackgen report: $path"
else
	fatal "stackgen report (exit $?)"
fi
[ "$path" = "$OUT/index.html" ] || fail "report printed $path, want $OUT/index.html"
page=$(cat "$OUT/index.html") || fatal "no index.html"

# Every panel of the overview dashboard (seed 000's panels) has data.
ov='data-dashboard="e2e-report--overview"'
n_ov=$(grep -o "$ov data-has-data=\"[a-z]*\"" <<<"$page" | wc -l)
n_ov_empty=$(grep -o "$ov data-has-data=\"false\"" <<<"$page" | wc -l)
if [ "$n_ov" -ge 10 ] && [ "$n_ov_empty" = 0 ]; then
	pass "all $n_ov seed 000 (overview) panels show data"
else
	fail "overview: $n_ov_empty of $n_ov panels without data: $(grep -o "id=\"e2e-report--overview-panel-[0-9]*\" $ov data-has-data=\"false\"" <<<"$page" | head)"
fi
# The model dashboard's seed 000 panels.
for title in 'Requests/s (RPS)' 'Latency (P95)' 'CPU (cores)' 'RAM (MiB)' 'Target health' 'Open file descriptors' 'Threads'; do
	block=$(awk -v t="<h4>$title</h4>" 'index($0, "data-dashboard=\"e2e-report-demo\"") { cur = $0; next } index($0, t) && cur != "" { print cur; exit }' "$OUT/index.html")
	if grep -q 'data-has-data="true"' <<<"$block"; then
		pass "model dashboard panel '$title' shows data"
	else
		fail "model dashboard panel '$title' has no data: $block"
	fi
done

# Every image the page names exists and is a PNG.
missing=0
imgs=0
for img in $(grep -o '<img src="[^"]*"' <<<"$page" | sed 's/<img src="//; s/"$//'); do
	imgs=$((imgs + 1))
	head -c 8 "$OUT/$img" 2>/dev/null | grep -q 'PNG' || { missing=$((missing + 1)); fail "image $img missing or not a PNG"; }
done
[ "$imgs" -gt 20 ] && [ "$missing" = 0 ] && pass "$imgs chart images present"

# Every panel sits on Grafana's 24-column grid where its gridPos puts it.
n_panels=$(grep -c '<div class="panel ' <<<"$page")
n_grid=$(grep -Ec '<div class="panel [^"]*"[^>]*style="grid-column:[0-9]+ / span [0-9]+;grid-row:[0-9]+ / span [0-9]+"' <<<"$page")
if [ "$n_panels" -gt 0 ] && [ "$n_grid" = "$n_panels" ]; then
	pass "all $n_panels panels placed on the dashboard grid"
else
	fail "$n_grid of $n_panels panels placed on the dashboard grid"
fi

# No panel query failed against the real Prometheus (bar charts' instant
# queries included), and bar chart panels are drawn or say "No data".
if grep -q '<p class="err">query ' <<<"$page"; then
	fail "panel queries failed: $(grep -o '<p class="err">query [^<]*' <<<"$page" | head -3)"
else
	pass "no panel query failed"
fi
n_bar=$(grep -c '<div class="panel barchart"' <<<"$page")
n_bar_data=$(grep -c '<div class="panel barchart"[^>]*data-has-data="true"' <<<"$page")
log "bar chart panels: $n_bar ($n_bar_data with data)"

# Nothing is loaded from the network.
if grep -Eq '(src|href)="https?:' <<<"$page" || grep -q '<script' <<<"$page"; then
	fail "the page loads something from the network or has a script"
else
	pass "self-contained page"
fi

grep -q '<tr><td>high_error_ratio</td><td>demo</td><td class="firing">firing</td>' <<<"$page" &&
	pass "rule high_error_ratio shown firing" || fail "rule high_error_ratio not shown firing"
history_lists "$OUT/index.html" high_error_ratio demo &&
	pass "firing history lists high_error_ratio" ||
	fail "no firing history row for high_error_ratio: $(sed -n '/<h3>Firing history/,/<h2 id="emails">/p' "$OUT/index.html" | head -c 600)"
# Alertmanager's default email (HTML, made text by the mail catcher) lists
# the alert's labels one a line; the stack mails smtp.recipients' default.
email_shows "$OUT/index.html" high_error_ratio oncall@stackgen.local 'alertname = high_error_ratio' &&
	pass "the alert email is in the report (to oncall@stackgen.local, labels in the body): $(grep -Eo '<h3>[^<]*high_error_ratio[^<]*</h3>' <<<"$page" | head -n1)" ||
	fail "the alert email (to oncall@stackgen.local, body naming alertname = high_error_ratio) is not in the report: $(sed -n '/<h2 id="emails">/,$p' "$OUT/index.html" | head -c 800)"
grep -q '<td class="running">running</td>' <<<"$page" && pass "services with state in the header" || fail "no running services in the header"
grep -q '<td class="up">up</td>' <<<"$page" && pass "scrape targets with health in the header" || fail "no target up in the header"
