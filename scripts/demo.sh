#!/usr/bin/env bash
# The demo on one machine, no registry needed: set up Docker, compose and the
# local images (scripts/setup.sh), then run the offline demo stack: the demo
# model, its metrics-exporting proxy, Prometheus, Alertmanager and the mail
# catcher (Grafana is disabled: it needs a registry to pull).
#   bash scripts/demo.sh            set up and start
#   bash scripts/demo.sh --load     ... then send 30 s of traffic
# Stop it with: bin/stackgen down -f examples/offline/stack.yaml [--volumes]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
STACK=examples/offline/stack.yaml

bash scripts/setup.sh
bin/stackgen up -f "$STACK"

if [ "${1:-}" = --load ]; then
	bin/stackgen load -f "$STACK" --duration 30s --rate 20 --error-ratio 0.3
	bin/stackgen status -f "$STACK" || true
fi

cat <<MSG

Next:
  bin/stackgen load -f $STACK --duration 30s --rate 20     send traffic through the exporter
  bin/stackgen status -f $STACK                            services, targets, firing alerts
  open http://127.0.0.1:9090 (Prometheus), http://127.0.0.1:8025 (alert emails)
  bin/stackgen down -f $STACK [--volumes]                  stop (keep or drop the data)
MSG
