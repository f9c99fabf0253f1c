#!/usr/bin/env bash
# Benchmark of `stackgen load` against wrk on the same target, on one machine.
#
# Starts the in-repo fast upstream (bench/upstream, POST /invocations), then
# runs ROUNDS rounds of
#   wrk -t2 -c16 -d5s -s post.lua URL
#   stackgen load --url URL --payload post.json -c16 -d5s --output json
# alternating which goes first (so drift and other load on the machine hit
# both alike), and prints each rate, the per-round ratio stackgen/wrk and the
# median and total ratio, and the 1-minute load average after each round (the
# machine is shared: record it with the numbers). STD=1 adds a third
# contender: stackgen load with the net/http client (--http-client std).
#
# Usage: bench/load.sh                (from anywhere in the repository)
# Environment: ROUNDS (5), DURATION (5s), CONNS (16), THREADS (2), PORT (18490), STD (0).
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
PORT=${PORT:-18490}
STD=${STD:-0}

command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "# building"
go build -o "$tmp/upstream" ./bench/upstream
go build -o "$tmp/stackgen" ./cmd/stackgen

body='{"dataframe_split":{"columns":["age","income","tenure"],"data":[[35,5000,3],[42,7200,10]]}}'
printf '%s' "$body" >"$tmp/post.json"
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

url="http://127.0.0.1:$PORT/invocations"
"$tmp/upstream" -listen "127.0.0.1:$PORT" >"$tmp/upstream.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$PORT/ping" && break
	sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/ping" || { echo "upstream did not come up" >&2; cat "$tmp/upstream.log" >&2; exit 1; }

# Each run prints "RPS CPU_US_PER_REQUEST": the request rate, and the
# generator's own CPU time (user+sys) per request, which is less sensitive
# than the rate to whatever else the machine is doing.
TIMEFORMAT='%U %S'
run_wrk() {
	{ time wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$tmp/post.lua" "$url" >"$tmp/wrk.out"; } 2>"$tmp/time"
	local rps n
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
	n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	awk -v r="$rps" -v n="$n" '{printf "%s %.1f\n", r, ($1 + $2) * 1e6 / n}' "$tmp/time"
}
run_load() { # extra flags
	{ time "$tmp/stackgen" load --url "$url" --payload "$tmp/post.json" -c "$CONNS" -d "$DURATION" -q --output json "$@" >"$tmp/load.out"; } 2>"$tmp/time"
	local rps n
	rps=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' "$tmp/load.out")
	n=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$tmp/load.out")
	awk -v r="$rps" -v n="$n" '{printf "%s %.1f\n", r, ($1 + $2) * 1e6 / n}' "$tmp/time"
}

echo "# uptime: $(uptime)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | awk '{print $3}'), $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
echo "# target $url, wrk -t$THREADS -c$CONNS -d$DURATION vs stackgen load -c$CONNS -d$DURATION, $ROUNDS rounds"
run_wrk >/dev/null # warm up the upstream
hdr="round  wrk_rps   load_rps  ratio   wrk_cpu_us/req  load_cpu_us/req  load1"
[ "$STD" = 1 ] && hdr="$hdr  std_rps   std_ratio  std_cpu_us/req"
echo "$hdr"
ratios=()
sw=0
sl=0
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		read -r w wc < <(run_wrk)
		read -r l lc < <(run_load)
	else
		read -r l lc < <(run_load)
		read -r w wc < <(run_wrk)
	fi
	ratio=$(awk -v l="$l" -v w="$w" 'BEGIN {printf "%.3f", l / w}')
	ratios+=("$ratio")
	sw=$(awk -v a="$sw" -v b="$w" 'BEGIN {print a + b}')
	sl=$(awk -v a="$sl" -v b="$l" 'BEGIN {print a + b}')
	line=$(printf '%-6s %-9.0f %-9.0f %-7s %-15s %-16s %s' "$r" "$w" "$l" "$ratio" "$wc" "$lc" "$(cut -d' ' -f1 /proc/loadavg)")
	if [ "$STD" = 1 ]; then
		read -r s sc < <(run_load --http-client std)
		line="$line  $(printf '%-9.0f %-10.3f %s' "$s" "$(awk -v s="$s" -v w="$w" 'BEGIN {print s / w}')" "$sc")"
	fi
	echo "$line"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}')
total=$(awk -v l="$sl" -v w="$sw" 'BEGIN {printf "%.3f", l / w}')
echo "median ratio stackgen load / wrk: $median   total ratio: $total   (floor >= 0.90, goal 0.95)"
echo "# uptime: $(uptime)"
