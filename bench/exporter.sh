#!/usr/bin/env bash
# Benchmark of `stackgen exporter` against a fast upstream, on one machine,
# beside the peers a user would otherwise run:
#   direct    wrk -> bench upstream (POST /invocations)
#   exporter  wrk -> stackgen exporter (POST /predict) -> bench upstream
#   drift     the same with drift on: a second exporter started with
#             --baseline FILE (made by stackgen baseline from a CSV with the
#             bench body's columns), so every row's features are counted;
#             drift-on / drift-off is printed per round and as the median
#             (issue #11 floor 0.90), and the drift exporter's RSS before
#             and after the rounds
#   nginx     wrk -> nginx keep-alive reverse proxy (/predict -> /invocations)
#             (Debian nginx-light; skipped with a note when absent)
#   flask     wrk -> the seeds' Flask exporter (POST /predict) -> bench upstream
#             (when python3 with flask, prometheus_client and requests and
#             FLASK_EXPORTER are available; skipped with a note otherwise)
# The peers alternate within every round so drift hits all alike; medians of
# ROUNDS rounds and per-round ratios to direct are printed, with the CPU time
# per request of each proxy process. Then the p99 latency added at a fixed
# RATE req/s, open loop (bench/openloop; wrk2 is not packaged), for the
# exporter and nginx.
#
# Usage: bench/exporter.sh            (from the repository root)
# Environment: ROUNDS (3), DURATION (5s), CONNS (16), THREADS (2), RATE (1000),
#   NGINX (nginx), FLASK_EXPORTER (default /work/shared/bench/flask_exporter.py),
#   PYTHON (/usr/bin/python3), SKIP_LATENCY=1, SKIP_DRIFT=1,
#   ports UP_PORT EX_PORT NG_PORT FL_PORT DR_PORT.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
RATE=${RATE:-1000}
NGINX=${NGINX:-nginx}
PYTHON=${PYTHON:-/usr/bin/python3}
FLASK_EXPORTER=${FLASK_EXPORTER:-/work/shared/bench/flask_exporter.py}
UP_PORT=${UP_PORT:-18480}
EX_PORT=${EX_PORT:-18481}
NG_PORT=${NG_PORT:-18483}
FL_PORT=${FL_PORT:-18482}
DR_PORT=${DR_PORT:-18484}

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

# Drift on: a baseline over the bench body's columns (age, income, tenure),
# from a small CSV of plausible rows.
dr_pid=""
if [[ ${SKIP_DRIFT:-} != 1 ]]; then
	awk 'BEGIN {
		srand(11); print "age,income,tenure"
		for (i = 0; i < 2000; i++) printf "%d,%d,%d\n", 20 + int(rand() * 45), 2000 + int(rand() * 9000), int(rand() * 20)
	}' >"$tmp/train.csv"
	"$tmp/stackgen" baseline --data "$tmp/train.csv" -o "$tmp/baseline.json" >/dev/null 2>&1
	"$tmp/stackgen" exporter --listen "127.0.0.1:$DR_PORT" --upstream "http://127.0.0.1:$UP_PORT" --kind mlflow \
		--baseline "$tmp/baseline.json" 2>"$tmp/drift.log" &
	dr_pid=$!
	pids+=($dr_pid)
	wait_up "http://127.0.0.1:$DR_PORT/readyz"
fi
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; } # KiB

# nginx as a plain keep-alive reverse proxy, 2 workers (one per core here).
ng_pids=""
if command -v "$NGINX" >/dev/null; then
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx/n.conf" <<CONF
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  upstream model { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NG_PORT;
    location = /predict {
      proxy_pass http://model/invocations;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
	"$NGINX" -e "$tmp/nginx/error.log" -c "$tmp/nginx/n.conf" -g 'daemon off;' &
	pids+=($!)
	for _ in $(seq 50); do [[ -s $tmp/nginx/nginx.pid ]] && break; sleep 0.1; done
	sleep 0.3
	ng_master=$(cat "$tmp/nginx/nginx.pid")
	ng_pids=$(pgrep -P "$ng_master" | tr '\n' ' ')
	curl -fs -o /dev/null -H 'Content-Type: application/json' -d '{"inputs":[[1]]}' "http://127.0.0.1:$NG_PORT/predict" ||
		{ echo "nginx did not come up" >&2; exit 1; }
else
	echo "# note: nginx peer skipped ($NGINX not found; apt-get install -y nginx-light)"
fi

fl_pid=""
if [[ -f $FLASK_EXPORTER ]] && "$PYTHON" -c 'import flask, prometheus_client, requests' 2>/dev/null; then
	"$PYTHON" "$FLASK_EXPORTER" "$FL_PORT" "http://127.0.0.1:$UP_PORT/invocations" >"$tmp/flask.log" 2>&1 &
	fl_pid=$!
	pids+=($fl_pid)
	wait_up "http://127.0.0.1:$FL_PORT/metrics"
else
	echo "# note: Flask peer skipped (needs $FLASK_EXPORTER and $PYTHON with flask, prometheus_client, requests)"
fi

HZ=$(getconf CLK_TCK)
ticks() { # pids... -> summed utime+stime
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
	echo "$t"
}
# run URL PIDS : runs wrk; sets RPS and CPU (CPU µs per request of PIDS, the proxy).
run() {
	local url=$1 pidlist=$2 b a reqs
	b=$(ticks $pidlist)
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$tmp/post.lua" "$url" >"$tmp/wrk.out"
	a=$(ticks $pidlist)
	RPS=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$tmp/wrk.out")
	reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	CPU=$(awk -v a="$a" -v b="$b" -v n="$reqs" -v hz="$HZ" 'BEGIN {printf "%.1f", (a-b)/hz*1e6/n}')
	if grep -q "Non-2xx" "$tmp/wrk.out"; then echo "# warning: non-2xx answers from $url" >&2; fi
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
wrk -t1 -c4 -d1s -s "$tmp/post.lua" "http://127.0.0.1:$EX_PORT/predict" >/dev/null
[[ -n $ng_pids ]] && wrk -t1 -c4 -d1s -s "$tmp/post.lua" "http://127.0.0.1:$NG_PORT/predict" >/dev/null
if [[ -n $dr_pid ]]; then
	wrk -t1 -c4 -d1s -s "$tmp/post.lua" "http://127.0.0.1:$DR_PORT/predict" >/dev/null
	dr_rss0=$(rss "$dr_pid")
	dr_reqs0=$(curl -fs "http://127.0.0.1:$DR_PORT/metrics" | awk '/^http_requests_total.*route="\/predict"/ {s += $NF} END {printf "%d", s}')
fi
d=() e=() n=() f=() re=() rn=() rf=() en=() ce=() cn=() cf=() g=() cg=() rg=()
for r in $(seq "$ROUNDS"); do
	run "http://127.0.0.1:$UP_PORT/invocations" "$up_pid"
	d+=("$RPS")
	line="round $r: direct $RPS"
	run "http://127.0.0.1:$EX_PORT/predict" "$ex_pid"
	e+=("$RPS") ce+=("$CPU") re+=("$(ratio "$RPS" "${d[-1]}")")
	line+="  exporter $RPS (${re[-1]}, $CPU µs)"
	if [[ -n $dr_pid ]]; then
		run "http://127.0.0.1:$DR_PORT/predict" "$dr_pid"
		g+=("$RPS") cg+=("$CPU") rg+=("$(ratio "$RPS" "${e[-1]}")")
		line+="  drift-on $RPS (${rg[-1]} of drift-off, $CPU µs)"
	fi
	if [[ -n $ng_pids ]]; then
		run "http://127.0.0.1:$NG_PORT/predict" "$ng_pids"
		n+=("$RPS") cn+=("$CPU") rn+=("$(ratio "$RPS" "${d[-1]}")") en+=("$(ratio "${e[-1]}" "$RPS")")
		line+="  nginx $RPS (${rn[-1]}, $CPU µs)"
	fi
	if [[ -n $fl_pid ]]; then
		run "http://127.0.0.1:$FL_PORT/predict" "$fl_pid"
		f+=("$RPS") cf+=("$CPU") rf+=("$(ratio "$RPS" "${d[-1]}")")
		line+="  flask $RPS (${rf[-1]}, $CPU µs)"
	fi
	echo "$line   [rps (ratio to direct, proxy CPU per request)]"
done
med() { printf '%s\n' "$@" | median; }
echo "median direct:   $(med "${d[@]}") rps"
echo "median exporter: $(med "${e[@]}") rps, ratio to direct $(med "${re[@]}") (floor 0.40), proxy CPU $(med "${ce[@]}") µs/req"
if [[ -n $dr_pid ]]; then
	dr_rss1=$(rss "$dr_pid")
	dr_reqs1=$(curl -fs "http://127.0.0.1:$DR_PORT/metrics" | awk '/^http_requests_total.*route="\/predict"/ {s += $NF} END {printf "%d", s}')
	bins=$(curl -fs "http://127.0.0.1:$DR_PORT/metrics" | grep -c '^model_feature_bin_total' || true)
	echo "median drift-on: $(med "${g[@]}") rps, drift-on / drift-off (per round, median) $(med "${rg[@]}") (issue #11 floor 0.90), proxy CPU $(med "${cg[@]}") µs/req"
	echo "drift-on exporter RSS: $((dr_rss0 / 1024)) MiB before the rounds, $((dr_rss1 / 1024)) MiB after $((dr_reqs1 - dr_reqs0)) more requests ($bins model_feature_bin_total series)"
fi
if [[ -n $ng_pids ]]; then
	echo "median nginx:    $(med "${n[@]}") rps, ratio to direct $(med "${rn[@]}"), proxy CPU $(med "${cn[@]}") µs/req"
	echo "exporter / nginx (per round, median): $(med "${en[@]}") (floor 0.75, goal 1.0)"
fi
if [[ -n $fl_pid ]]; then
	echo "median flask:    $(med "${f[@]}") rps, ratio to direct $(med "${rf[@]}"), proxy CPU $(med "${cf[@]}") µs/req"
	echo "exporter / flask: $(awk -v e="$(med "${e[@]}")" -v f="$(med "${f[@]}")" 'BEGIN {printf "%.1f", e/f}')x (floor 30x)"
fi

if [[ ${SKIP_LATENCY:-} != 1 ]]; then
	echo "# open-loop latency at $RATE req/s (bench/openloop; added = proxy p99 - direct p99)"
	urls=("http://127.0.0.1:$UP_PORT/invocations" "http://127.0.0.1:$EX_PORT/predict")
	[[ -n $ng_pids ]] && urls+=("http://127.0.0.1:$NG_PORT/predict")
	"$tmp/openloop" -rate "$RATE" -d "$DURATION" -rounds "$ROUNDS" "${urls[@]}"
fi
