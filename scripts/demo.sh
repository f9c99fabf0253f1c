#!/usr/bin/env bash
# The demo on one machine. Sets up Docker, compose and the local images
# (scripts/setup.sh), then runs
#   - the full demo stack (examples/demo: demo model, metrics-exporting proxy,
#     Prometheus, Grafana with dashboards and email alerts, mail catcher) when
#     its Grafana and Prometheus images are present or can be pulled,
#   - else the offline stack (examples/offline: the same without Grafana,
#     alerts evaluated by Prometheus and mailed by Alertmanager, every image
#     built locally), saying which image could not be had and why.
#   bash scripts/demo.sh            set up and start
#   bash scripts/demo.sh --load     ... then send 30 s of traffic
#   STACKGEN_DEMO=offline|demo      force one stack
# The Grafana admin password comes from STACKGEN_GRAFANA_ADMIN_PASSWORD; when
# it is unset the demo makes one up and prints it.
# Stop it with: bin/stackgen down -f <the stack printed below> [--volumes]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/setup.sh

# images_available STACK: every image the stack's rendered compose.yaml names
# (except stackgen's own, which up builds) is present or pulls; prints why not.
images_available() {
	local tmp img out
	tmp=$(mktemp -d)
	bin/stackgen render -f "$1" -o "$tmp/deploy" >/dev/null
	for img in $(awk '$1 == "image:" && $2 != "stackgen:local" { print $2 }' "$tmp/deploy/compose.yaml" | sort -u); do
		docker image inspect "$img" >/dev/null 2>&1 && continue
		echo "pulling $img ..."
		if ! out=$(timeout 300 docker pull -q "$img" 2>&1); then
			WHY="image $img is not present and cannot be pulled: $(tail -n1 <<<"$out")"
			rm -rf "$tmp"
			return 1
		fi
	done
	rm -rf "$tmp"
}

WHY=""
case "${STACKGEN_DEMO:-}" in
offline) STACK=examples/offline/stack.yaml WHY="STACKGEN_DEMO=offline" ;;
demo) STACK=examples/demo/stack.yaml ;;
*)
	if images_available examples/demo/stack.yaml; then
		STACK=examples/demo/stack.yaml
	else
		STACK=examples/offline/stack.yaml
	fi
	;;
esac

if [ "$STACK" = examples/demo/stack.yaml ]; then
	echo "demo: running the full demo with Grafana (examples/demo/stack.yaml)"
	if [ -z "${STACKGEN_GRAFANA_ADMIN_PASSWORD:-}" ]; then
		STACKGEN_GRAFANA_ADMIN_PASSWORD=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
		export STACKGEN_GRAFANA_ADMIN_PASSWORD
		echo "demo: Grafana admin password (STACKGEN_GRAFANA_ADMIN_PASSWORD): $STACKGEN_GRAFANA_ADMIN_PASSWORD"
	fi
	URLS="http://127.0.0.1:3000 (Grafana, admin / \$STACKGEN_GRAFANA_ADMIN_PASSWORD), http://127.0.0.1:9090 (Prometheus), http://127.0.0.1:8025 (alert emails)"
else
	echo "demo: running the offline stack without Grafana (examples/offline/stack.yaml) because $WHY"
	URLS="http://127.0.0.1:9090 (Prometheus), http://127.0.0.1:8025 (alert emails)"
fi

bin/stackgen up -f "$STACK"

if [ "${1:-}" = --load ]; then
	bin/stackgen load -f "$STACK" --duration 30s --rate 20 --error-ratio 0.3
	bin/stackgen status -f "$STACK" || true
fi

cat <<MSG

Next:
  bin/stackgen load -f $STACK --duration 30s --rate 20     send traffic through the exporter
  bin/stackgen status -f $STACK                            services, targets, firing alerts, panels waiting for traffic
  open $URLS
  bin/stackgen down -f $STACK [--volumes]                  stop (keep or drop the data)
MSG
