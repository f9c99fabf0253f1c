#!/usr/bin/env bash
# Benchmark: time from `stackgen up` to every Prometheus target up, against
# plain `docker compose up -d --wait` on the same rendered files followed by
# the same wait for the targets. Both start from nothing (no containers, no
# volumes) with every image present; the goal is that stackgen adds < 2 s.
# The order alternates (odd runs stackgen first, even runs compose first), so
# neither tool always gets the warmer caches.
#   bash bench/up.sh            one run of each (RUNS=4 for more)
# Needs what scripts/setup.sh installs (bin/stackgen, docker compose v2, the
# local images). Results: docs/bench-up.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SG="$ROOT/bin/stackgen"
STACK="$ROOT/examples/offline/stack.yaml"
RUNS=${RUNS:-1}
WORK=$(mktemp -d /tmp/stackgen-bench.XXXXXX)
DEPLOY="$WORK/deploy"
PROM=http://127.0.0.1:9090
PROJECT=$(sed -n 's/^name: *//p' "$STACK" | head -n1)

cleanup() {
	"$SG" down -f "$STACK" -o "$DEPLOY" --volumes >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# all_targets_up: every active target up, and at least as many ($want) as
# the rendered prometheus.yml lists.
want=1
all_targets_up() {
	local j up total
	j=$(curl -fsS -m 2 "$PROM/api/v1/targets?state=active" 2>/dev/null) || return 1
	up=$(grep -o '"health":"up"' <<<"$j" | wc -l)
	total=$(grep -o '"health":"[a-z]*"' <<<"$j" | wc -l)
	[ "$total" -gt 0 ] && [ "$up" = "$total" ] && [ "$total" -ge "${want:-1}" ]
}

wait_targets() {
	local deadline=$(($(date +%s) + 180))
	until all_targets_up; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "targets not up within 180 s" >&2; return 1; }
		sleep 0.1
	done
}

# Warm-up: render, build the content-tagged stackgen image, start once so
# every image and the page cache are warm; then remove everything.
"$SG" render -f "$STACK" -o "$DEPLOY" >/dev/null
want=$(grep -cE '^ +- [A-Za-z0-9_.-]+:[0-9]+$' "$DEPLOY/prometheus/prometheus.yml" || true)
want=$((want - $(grep -cE 'alertmanager:9093' "$DEPLOY/prometheus/prometheus.yml" || true)))
"$SG" up -f "$STACK" -o "$DEPLOY" >"$WORK/warm.log" 2>&1 || { cat "$WORK/warm.log"; exit 1; }
"$SG" down -f "$STACK" -o "$DEPLOY" --volumes >/dev/null 2>&1
# stackgen up runs its own services from stackgen:<version>-<hash>; plain
# compose gets the same image through a copy of compose.yaml.
TAG=$(awk '$1 == "stackgen" && $2 == "image" { print $3 }' "$WORK/warm.log")
[ -n "$TAG" ] || { echo "no stackgen image in the up output:" >&2; cat "$WORK/warm.log" >&2; exit 1; }
sed "s|image: stackgen:local|image: $TAG|" "$DEPLOY/compose.yaml" >"$WORK/compose.yaml"
DC=(docker compose -p "$PROJECT" --project-directory "$DEPLOY" -f "$WORK/compose.yaml")

printf 'stack %s, %s, docker %s, %s cores, load %s\n' "$PROJECT" "$(docker compose version --short)" \
	"$(docker info --format '{{.ServerVersion}}')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %-6s %-20s %-40s %s\n' run first "stackgen up (s)" "compose up -d --wait + targets (s)" "difference (s)"

run_sg() {
	local t0 t1
	t0=$(now)
	"$SG" up -f "$STACK" -o "$DEPLOY" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
	t1=$(now)
	all_targets_up || { echo "stackgen up returned before every target was up" >&2; exit 1; }
	sg=$(elapsed "$t0" "$t1")
	"$SG" down -f "$STACK" -o "$DEPLOY" --volumes >/dev/null 2>&1
}

run_dc() {
	local t0 tw t1
	t0=$(now)
	"${DC[@]}" up -d --wait >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; exit 1; }
	tw=$(now)
	wait_targets
	t1=$(now)
	dc=$(elapsed "$t0" "$t1")
	dcw=$(elapsed "$t0" "$tw")
	"${DC[@]}" down --volumes >/dev/null 2>&1
}

for i in $(seq 1 "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then
		first=stackgen
		run_sg
		run_dc
	else
		first=compose
		run_dc
		run_sg
	fi
	printf '%-4s %-6s %-20s %-40s %s\n' "$i" "$first" "$sg" "$dc (--wait returned at $dcw)" "$(awk -v a="$sg" -v b="$dc" 'BEGIN { printf "%+.2f", a - b }')"
	echo "$sg" >>"$WORK/sg.times"
	echo "$dc" >>"$WORK/dc.times"
done
if [ "$RUNS" -gt 1 ]; then
	median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	msg=$(median "$WORK/sg.times")
	mdc=$(median "$WORK/dc.times")
	printf '%-4s %-6s %-20s %-40s %s\n' median "" "$msg" "$mdc" "$(awk -v a="$msg" -v b="$mdc" 'BEGIN { printf "%+.2f", a - b }')"
fi
echo
echo "stackgen's own progress (last run):"
sed 's/^/  /' "$WORK/up.log"
