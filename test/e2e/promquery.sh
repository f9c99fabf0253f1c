# Prometheus query helpers shared by the end-to-end tests (sourced, not run).
# The sourcing script defines PROM (Prometheus' base URL) and pass/fail.

# prom_query QUERY [TIME]: prints the API's JSON answer for an instant query.
prom_query() {
	local args=(--data-urlencode "query=$1")
	[ -n "${2:-}" ] && args+=(--data-urlencode "time=$2")
	curl -fsS -m 10 -G "${args[@]}" "$PROM/api/v1/query" 2>/dev/null
}

# has_data JSON [NONZERO]: the answer is a success with at least one series,
# and no value is NaN or infinite (a panel shows those as "No data" or
# nonsense); with NONZERO=1 no value may be 0 either (up == 0 is a target
# down, not data).
has_data() {
	jq -e --arg nz "${2:-0}" '
		.status == "success" and (.data.result | length > 0)
		and all(.data.result[]; (.value[1] | test("^[+-]?(NaN|Inf)$") | not)
			and ($nz != "1" or (.value[1] | tonumber) != 0))' <<<"$1" >/dev/null 2>&1
}

# wait_query NAME QUERY TIMEOUT [TIME] [NONZERO]: passes when QUERY returns
# data (see has_data) within TIMEOUT s.
wait_query() {
	local name=$1 q=$2 timeout=$3 at=${4:-} nz=${5:-0} deadline ans
	deadline=$(($(date +%s) + timeout))
	while :; do
		ans=$(prom_query "$q" "$at")
		if has_data "$ans" "$nz"; then
			pass "$name: $(grep -o '"value":\[[^]]*\]' <<<"$ans" | head -n1)"
			return 0
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "$name: no data within ${timeout}s for $q (last answer: ${ans:0:300})"
			return 1
		fi
		sleep 1
	done
}

# The seed 000 dashboard queries (../shared/seeds/README.md), as NAME|QUERY:
# each must return data.
J='job="ml_model_exporter"'
declare -a SEED_QUERIES=(
	"RPS|sum(rate(http_requests_total{$J}[1m]))"
	"P95 latency|histogram_quantile(0.95, sum by(le) (rate(http_request_duration_seconds_bucket{$J}[5m])))"
	"CPU|rate(process_cpu_seconds_total{$J}[5m])"
	"RAM MB|avg_over_time(process_resident_memory_bytes{$J}[5m]) / (1024 * 1024)"
	"Target health|up{$J}"
	"Open FDs|avg_over_time(process_open_fds{$J}[5m])"
	"Threads|avg_over_time(process_threads{$J}[5m])"
)
