#!/usr/bin/env bash
# Benchmark of `stackgen exporter` against a fast upstream, on one machine.
#
# Prints, from one run with alternating rounds (so drift hits all alike):
#   direct    wrk -> bench upstream (POST /invocations)
#   exporter  wrk -> stackgen exporter (POST /predict) -> bench upstream
#   flask     wrk -> seed-style Flask exporter (POST /predict) -> bench upstream
#             (only when python3 with flask, prometheus_client and requests is
#             available and a flask_exporter.py is found; see FLASK_EXPORTER)
# and then the p99 latency the exporter adds at a fixed 1,000 req/s, measured
# open-loop by bench/openloop (wrk2 is not packaged).
#
# Usage: bench/exporter.sh            (from the repository root)
# Environment: ROUNDS (3), DURATION (5s), CONNS (16), THREADS (2), RATE (1000),
#   FLASK_EXPORTER (default /work/shared/bench/flask_exporter.py), PYTHON
#   (default /usr/bin/python3), SKIP_LATENCY=1 to skip the open-loop part.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
RATE=${RATE:-1000}
PYTHON=${PYTHON:-/usr/bin/python3}
FLASK_EXPORTER=${FLASK_EXPORTER:-/work/shared/bench/flask_exporter.py}
UP_PORT=${UP_PORT:-18480}
EX_PORT=${EX_PORT:-18481}
FL_PORT=${FL_PORT:-18482}

command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "# building"
go build -o "$tmp/upstream" ./bench/upstream
go build -o "$tmp/stackgen" ./cmd/stackgen
go build -o "$tmp/openloop" ./bench/openloop

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"dataframe_split":{"columns":["age","income","tenure"],"data":[[35,5000,3],[42,7200,10]]}}'
LUA

wait_up() { # url
	for _ in $(seq 100); do
		if curl -fs -o /dev/null "$1"; then return 0; fi
		sleep 0.1
	done
	echo "$1 did not come up" >&2
	exit 1
}

"$tmp/upstream" -listen "127.0.0.1:$UP_PORT" 2>"$tmp/upstream.log" &
up_pid=$!
pids+=($up_pid)
"$tmp/stackgen" exporter --listen "127.0.0.1:$EX_PORT" --upstream "http://127.0.0.1:$UP_PORT" --kind mlflow 2>"$tmp/exporter.log" &
ex_pid=$!
pids+=($ex_pid)
wait_up "http://127.0.0.1:$UP_PORT/ping"
wait_up "http://127.0.0.1:$EX_PORT/readyz"

flask=""
if [[ -f $FLASK_EXPORTER ]] && "$PYTHON" -c 'import flask, prometheus_client, requests' 2>/dev/null; then
	"$PYTHON" "$FLASK_EXPORTER" "$FL_PORT" "http://127.0.0.1:$UP_PORT/invocations" >"$tmp/flask.log" 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$FL_PORT/metrics"
	flask=1
else
	echo "# note: Flask peer skipped (needs $FLASK_EXPORTER and $PYTHON with flask, prometheus_client, requests)"
fi

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; } # utime+stime, clock ticks
HZ=$(getconf CLK_TCK)
# run URL PID... : runs wrk, sets RPS and CPU_US (CPU microseconds per
# request of wrk and of each PID, space-separated).
run() {
	local url=$1 out reqs t0 w
	shift
	local -a before=()
	for p in "$@"; do before+=("$(ticks "$p")"); done
	TIMEFORMAT='%U %S'
	{ time wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$tmp/post.lua" "$url" >"$tmp/wrk.out"; } 2>"$tmp/wrk.time"
	RPS=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
	reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	w=$(awk -v n="$reqs" '{printf "%.1f", ($1+$2)*1e6/n}' "$tmp/wrk.time")
	CPU_US="$w"
	local i=0
	for p in "$@"; do
		CPU_US+=" $(awk -v a="${before[$i]}" -v b="$(ticks "$p")" -v n="$reqs" -v hz="$HZ" 'BEGIN {printf "%.1f", (b-a)/hz*1e6/n}')"
		i=$((i + 1))
	done
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
# Warm-up (connection pools, page cache, CPU frequency).
wrk -t1 -c4 -d1s -s "$tmp/post.lua" "http://127.0.0.1:$EX_PORT/predict" >/dev/null
d=() e=() f=() proj=()
for r in $(seq "$ROUNDS"); do
	run "http://127.0.0.1:$UP_PORT/invocations" "$up_pid"
	d+=("$RPS")
	read -r dw du <<<"$CPU_US"
	run "http://127.0.0.1:$EX_PORT/predict" "$up_pid" "$ex_pid"
	e+=("$RPS")
	read -r ew eu ee <<<"$CPU_US"
	line="round $r: direct ${d[-1]} rps  exporter ${e[-1]} rps"
	if [[ -n $flask ]]; then
		run "http://127.0.0.1:$FL_PORT/predict"
		f+=("$RPS")
		line+="  flask ${f[-1]} rps"
	fi
	# CPU time per request (µs) is far less sensitive to other load on the
	# machine than rates; its ratio projects the rate ratio on an idle machine.
	proj+=("$(awk -v a="$dw" -v b="$du" -v c="$ew" -v d="$eu" -v e="$ee" 'BEGIN {printf "%.1f", 100*(a+b)/(c+d+e)}')")
	echo "$line   CPU µs/req: direct [wrk $dw, upstream $du]  exporter path [wrk $ew, upstream $eu, exporter $ee]  -> CPU-projected ratio ${proj[-1]}%"
done
dm=$(printf '%s\n' "${d[@]}" | median)
em=$(printf '%s\n' "${e[@]}" | median)
echo "median direct rate:   $dm rps"
echo "median exporter rate: $em rps  ($(awk -v e="$em" -v d="$dm" 'BEGIN {printf "%.1f%%", 100*e/d}') of direct; goal >= 40%)"
if [[ -n $flask ]]; then
	fm=$(printf '%s\n' "${f[@]}" | median)
	echo "median flask rate:    $fm rps  (exporter is $(awk -v e="$em" -v f="$fm" 'BEGIN {printf "%.1f", e/f}')x flask; goal >= 30x)"
fi
ratios=$(for i in "${!d[@]}"; do awk -v e="${e[$i]}" -v d="${d[$i]}" 'BEGIN {printf "%.1f\n", 100*e/d}'; done)
echo "CPU-projected exporter/direct (idle 2-core machine): median $(printf '%s\n' "${proj[@]}" | median)%"
echo "per-round exporter/direct: $(echo $ratios | sed 's/ /%, /g')%  (median $(echo "$ratios" | median)%)"

if [[ ${SKIP_LATENCY:-} != 1 ]]; then
	echo "# open-loop latency at $RATE req/s (bench/openloop; added = exporter p99 - direct p99)"
	"$tmp/openloop" -rate "$RATE" -d "$DURATION" -rounds "$ROUNDS" \
		"http://127.0.0.1:$UP_PORT/invocations" "http://127.0.0.1:$EX_PORT/predict"
fi
