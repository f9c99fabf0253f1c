#!/usr/bin/env bash
# kube-apiserver.sh: a real Kubernetes API server (with etcd) on loopback, built from the Go
# module proxy, for validating `stackgen render --target kubernetes` output.
#
#   scripts/kube-apiserver.sh build        build kube-apiserver, kubectl, etcd, prometheus-operator into the cache (idempotent)
#   scripts/kube-apiserver.sh bindir       print the cache bin folder
#   scripts/kube-apiserver.sh crds         print the prometheus-operator CRD folder (downloads the module)
#   scripts/kube-apiserver.sh start DIR    start etcd + kube-apiserver, write DIR/kubeconfig, wait for /readyz
#   scripts/kube-apiserver.sh stop DIR     stop both by the PIDs recorded in DIR
#
# Env: STACKGEN_KUBE_CACHE (default ~/.cache/stackgen/kube/$KUBE_VERSION),
#      KUBE_APISERVER_PORT (default 16443), KUBE_ETCD_PORT (default 12379),
#      KUBE_ETCD_PEER_PORT (default KUBE_ETCD_PORT+1).
# Recipe and measurements: see docs/kubernetes.md.
set -euo pipefail

KUBE_VERSION=v1.37.2          # k8s.io/kubernetes
STAGING_VERSION=v0.37.2       # k8s.io/* staging modules of the same release
# prometheus-operator version whose CRDs are installed: the version of the Go types in go.mod
# (the module proxy here serves the main module at v0.94.0 and v0.85.0, not v0.95.x).
PROM_OPERATOR_VERSION=${PROM_OPERATOR_VERSION:-$(cd "$(dirname "$0")/.." && go list -m -f '{{.Version}}' github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring 2>/dev/null || true)}

# prometheus-operator binary run by the tests to generate Prometheus' configuration from the
# ServiceMonitors: v0.85.0, the newest release whose whole module graph (pkg/client) the module
# proxy here serves. Its generated configuration is what is checked, not its CRDs.
PROM_OPERATOR_BIN_VERSION=v0.85.0

CACHE=${STACKGEN_KUBE_CACHE:-$HOME/.cache/stackgen/kube/$KUBE_VERSION}
BIN=$CACHE/bin
API_PORT=${KUBE_APISERVER_PORT:-16443}
ETCD_PORT=${KUBE_ETCD_PORT:-12379}
ETCD_PEER_PORT=${KUBE_ETCD_PEER_PORT:-$((ETCD_PORT + 1))}

die() { echo "kube-apiserver.sh: $*" >&2; exit 1; }

build() {
  build_operator
  if [[ -x $BIN/kube-apiserver && -x $BIN/kubectl && -x $BIN/etcd ]]; then
    echo "kube-apiserver.sh: binaries present in $BIN (delete them to rebuild)"; return 0
  fi
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  local mod=$CACHE/module
  mkdir -p "$mod" "$BIN"
  cd "$mod"
  go mod download "k8s.io/kubernetes@$KUBE_VERSION"
  local modfile
  modfile=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$KUBE_VERSION.mod
  rm -f go.mod go.sum
  go mod init k8sbuild >/dev/null 2>&1
  go mod edit -go=1.26.0 -require="k8s.io/kubernetes@$KUBE_VERSION"
  local m
  for m in $(grep -oE '^\s+k8s\.io/[a-z0-9-]+ => \./staging' "$modfile" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@$STAGING_VERSION"
  done
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  done
  local t0=$SECONDS
  go build -ldflags "$ld" -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  go build -ldflags "$ld" -o "$BIN/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
  go build -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  for b in kube-apiserver kubectl etcd; do mv "$BIN/$b.tmp" "$BIN/$b"; done
  echo "kube-apiserver.sh: built into $BIN in $((SECONDS - t0)) s"
}

# build_operator builds prometheus-operator into $BIN/prometheus-operator (~1.7 min cold).
build_operator() {
  [[ -x $BIN/prometheus-operator ]] && return 0
  local mod=$CACHE/operator-module
  mkdir -p "$mod" "$BIN"
  (
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod
    cd "$mod"
    rm -f go.mod go.sum
    go mod init opbuild >/dev/null 2>&1
    go mod edit -go=1.26.0 -require="github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_BIN_VERSION"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/prometheus-operator/prometheus-operator/cmd/operator"\n' > tools.go
    go mod tidy
    go build -o "$BIN/prometheus-operator.tmp" github.com/prometheus-operator/prometheus-operator/cmd/operator
    mv "$BIN/prometheus-operator.tmp" "$BIN/prometheus-operator"
  )
  echo "kube-apiserver.sh: built prometheus-operator $PROM_OPERATOR_BIN_VERSION into $BIN"
}

crds() {
  [[ -n $PROM_OPERATOR_VERSION ]] || die "cannot determine the prometheus-operator version (set PROM_OPERATOR_VERSION)"
  local dir
  # Outside any module, so the repository's go.mod/go.sum are not touched.
  dir=$(cd / && GOFLAGS= go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir/example/prometheus-operator-crd ]] || die "no CRDs in $dir"
  echo "$dir/example/prometheus-operator-crd"
}

start() {
  local d=${1:?usage: start DIR}
  [[ -x $BIN/kube-apiserver ]] || die "no binaries in $BIN: run scripts/kube-apiserver.sh build"
  mkdir -p "$d/certs"
  d=$(cd "$d" && pwd)
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  local token
  token=$(openssl rand -hex 16)
  echo "$token,admin,admin-uid,\"system:masters\"" > "$d/tokens.csv"
  chmod 600 "$d/tokens.csv" "$d/sa.key"
  "$BIN/etcd" --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" >"$d/etcd.log" 2>&1 &
  echo $! > "$d/etcd.pid"
  "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 --secure-port="$API_PORT" --cert-dir="$d/certs" \
    --service-cluster-ip-range=10.96.0.0/16 --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
    --token-auth-file="$d/tokens.csv" --authorization-mode=AlwaysAllow \
    --endpoint-reconciler-type=none >"$d/kube-apiserver.log" 2>&1 &
  echo $! > "$d/kube-apiserver.pid"
  local kc=$d/kubeconfig
  local k=("$BIN/kubectl" --kubeconfig "$kc")
  "${k[@]}" config set-cluster local --server="https://127.0.0.1:$API_PORT" --insecure-skip-tls-verify=true >/dev/null
  "${k[@]}" config set-credentials admin --token="$token" >/dev/null
  "${k[@]}" config set-context local --cluster=local --user=admin >/dev/null
  "${k[@]}" config use-context local >/dev/null
  chmod 600 "$kc"
  local i
  for i in $(seq 1 120); do
    if "${k[@]}" get --raw /readyz >/dev/null 2>&1; then echo "$kc"; return 0; fi
    kill -0 "$(cat "$d/kube-apiserver.pid")" 2>/dev/null || { tail -20 "$d/kube-apiserver.log" >&2; stop "$d"; die "kube-apiserver exited"; }
    sleep 0.5
  done
  tail -20 "$d/kube-apiserver.log" >&2
  stop "$d"
  die "kube-apiserver not ready after 60 s"
}

stop() {
  local d=${1:?usage: stop DIR} p f
  for f in kube-apiserver etcd; do
    [[ -f $d/$f.pid ]] || continue
    p=$(cat "$d/$f.pid")
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$p" 2>/dev/null || true
    rm -f "$d/$f.pid"
  done
}

case ${1:-} in
  build) build ;;
  bindir) echo "$BIN" ;;
  crds) crds ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 build|bindir|crds|start DIR|stop DIR" >&2; exit 2 ;;
esac
