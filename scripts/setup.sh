#!/usr/bin/env bash
# Fresh-machine setup for running stackgen stacks without a container registry.
# Idempotent: every step checks first and is skipped when already done, so a
# second run takes a few seconds.
#
#   1. Debian packages: docker.io, prometheus (for promtool and the Prometheus
#      image), prometheus-alertmanager (for the Alertmanager image).
#   2. A Docker engine: when `docker info` does not answer, start dockerd in the
#      background on the default socket (/var/run/docker.sock, data in
#      /var/lib/docker, log in /var/log/stackgen-dockerd.log), so `docker` works
#      without DOCKER_HOST. No systemd is needed. A DOCKER_HOST you set is used
#      as is.
#   3. The compose v2 CLI plugin, built from tools/compose-plugin into
#      ~/.docker/cli-plugins/docker-compose (skipped when `docker compose
#      version` already works). docker-compose 1.x is end-of-life and stackgen
#      does not run it: without Go and without the plugin, setup fails and
#      says how to install the plugin.
#   4. Local images stackgen/prometheus:<debian version> and
#      stackgen/alertmanager:<debian version> from Debian's binaries, FROM
#      scratch (images/*/Dockerfile).
#   5. bin/stackgen, a static (CGO_ENABLED=0) build of the CLI.
#   6. With STACKGEN_SETUP_TESTS=1 (scripts/test.sh and .ci/run set it), what
#      only the tests need: Debian's python3-pandas and chromium, and
#      kube-apiserver, kubectl, etcd and prometheus-operator built from the Go
#      module proxy (scripts/kube-apiserver.sh build, ~7 min cold). The demo
#      does not wait for them.
#
# Needs root (or sudo) for apt-get and dockerd; Go for steps 3 and 5.
# Environment:
#   STACKGEN_SKIP_APT=1     never run apt-get (fail if something is missing)
#   STACKGEN_SETUP_TESTS=1  also install what only the tests need (step 6)
#   STACKGEN_DOCKERD_ARGS   extra dockerd arguments when this script starts it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
now() { date +%s; }

START=$(now)
SUDO=()
if [ "$(id -u)" != 0 ]; then
	if have sudo; then SUDO=(sudo); fi
fi

# --- 1. Debian packages ------------------------------------------------------
APT_UPDATED=0
apt_install() { # apt_install [apt-get install flags...] pkg...
	[ "${STACKGEN_SKIP_APT:-0}" = 1 ] && die "missing packages ($*) and STACKGEN_SKIP_APT=1"
	have apt-get || die "apt-get not found; install by hand: $*"
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		"${SUDO[@]}" apt-get update -qq >/dev/null
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	"${SUDO[@]}" apt-get install -y -qq "$@" >/dev/null
}

if ! have dockerd || ! have docker; then
	# Measured recipe: docker.io with its recommends (~17 s).
	apt_install docker.io
fi
pkgs=()
have promtool || pkgs+=(prometheus)
have prometheus-alertmanager || pkgs+=(prometheus-alertmanager)
TESTS=${STACKGEN_SETUP_TESTS:-0}
# Debian's pandas/numpy: the demo model's MLflow error texts are compared
# with what real pandas prints (model/pandas_test.go).
if [ "$TESTS" = 1 ]; then
	/usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || pkgs+=(python3-pandas)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
	apt_install --no-install-recommends "${pkgs[@]}"
fi
# Debian's headless Chromium (with its recommended fonts): the evidence report
# is opened in a real browser by the report tests.
if [ "$TESTS" = 1 ]; then
	have chromium || apt_install chromium
fi

# --- 2. Docker engine --------------------------------------------------------
if docker info >/dev/null 2>&1; then
	log "docker engine answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
else
	if [ -n "${DOCKER_HOST:-}" ]; then
		die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST"
	fi
	[ "$(id -u)" = 0 ] || [ ${#SUDO[@]} -gt 0 ] || die "no docker engine answers and starting dockerd needs root"
	log "starting dockerd in the background (log: /var/log/stackgen-dockerd.log)"
	# setsid + nohup: the daemon outlives this script and its terminal.
	# shellcheck disable=SC2086
	"${SUDO[@]}" setsid nohup dockerd --host unix:///var/run/docker.sock \
		${STACKGEN_DOCKERD_ARGS:-} >/var/log/stackgen-dockerd.log 2>&1 </dev/null &
	for _ in $(seq 1 120); do
		docker info >/dev/null 2>&1 && break
		sleep 0.5
	done
	docker info >/dev/null 2>&1 || {
		tail -n 20 /var/log/stackgen-dockerd.log >&2 || true
		die "dockerd did not answer within 60 s (log above)"
	}
	log "dockerd answers ($(docker info --format '{{.ServerVersion}}'))"
fi

# --- 3. Compose --------------------------------------------------------------
PLUGIN_DIR=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
if docker compose version >/dev/null 2>&1; then
	log "compose: $(docker compose version 2>/dev/null | head -n1)"
else
	built=0
	if have go; then
		log "building the compose v2 plugin into $PLUGIN_DIR (about 2 min the first time)"
		mkdir -p "$PLUGIN_DIR"
		if (cd "$ROOT/tools/compose-plugin" &&
			CGO_ENABLED=0 go build -trimpath -o "$PLUGIN_DIR/docker-compose.tmp" \
				-ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$(awk '$1 == "github.com/docker/compose/v5" { print $2 } $2 == "github.com/docker/compose/v5" { print $3 }' go.mod | head -n1)" .); then
			mv -f "$PLUGIN_DIR/docker-compose.tmp" "$PLUGIN_DIR/docker-compose"
			docker compose version >/dev/null 2>&1 && built=1
		fi
	fi
	[ "$built" = 1 ] || die "no compose v2: the plugin build from tools/compose-plugin failed (or Go is missing). Install Docker's docker-compose-plugin package (https://docs.docker.com/compose/install/linux/); docker-compose 1.x is end-of-life and not supported"
	log "compose: $(docker compose version | head -n1)"
fi

# --- 4. Prometheus and Alertmanager images -----------------------------------
# The classic builder: Debian's docker.io has no buildx.
if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi

debver() { dpkg-query -W -f='${Version}' "$1" | sed 's/^[0-9]*://; s/[+~-].*//'; }

# copy_with_libs DEST BIN... : copies each binary to DEST/bin/<name> plus every
# shared library and the loader it links (per ldd), at their absolute paths.
copy_libs() {
	local dest=$1 bin=$2 lib
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
		mkdir -p "$dest$(dirname "$lib")"
		cp -L "$lib" "$dest$lib"
	done
}

common_rootfs() {
	local r=$1
	mkdir -p "$r/etc/ssl/certs" "$r/bin"
	printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
		cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
	fi
}

# build_image NAME TAG DOCKERFILE_DIR FILL_FUNC: builds only when the image is
# absent or was built from a different recipe (Dockerfile + this script).
build_image() {
	local image=$1 dir=$2 fill=$3 recipe ctx out
	recipe=$(cat "$dir/Dockerfile" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
	if [ "$(docker image inspect -f '{{index .Config.Labels "org.stackgen.recipe"}}' "$image" 2>/dev/null || true)" = "$recipe" ]; then
		log "image $image is up to date"
		return
	fi
	log "building image $image"
	ctx=$(mktemp -d)
	mkdir -p "$ctx/rootfs" "$ctx/data"
	"$fill" "$ctx/rootfs"
	cp "$dir/Dockerfile" "$ctx/Dockerfile"
	if ! out=$(docker build -q --label "org.stackgen.recipe=$recipe" -t "$image" "$ctx" 2>&1); then
		printf '%s\n' "$out" >&2
		rm -rf "$ctx"
		die "building $image failed (output above)"
	fi
	rm -rf "$ctx"
}

fill_prometheus() {
	local r=$1 web=/usr/share/prometheus/web d
	common_rootfs "$r"
	cp -L /usr/bin/prometheus /usr/bin/promtool "$r/bin/"
	copy_libs "$r" /usr/bin/prometheus
	copy_libs "$r" /usr/bin/promtool
	mkdir -p "$r/etc/prometheus" "$r$web/static"
	cat >"$r/etc/prometheus/prometheus.yml" <<-'YAML'
		# Default config of the stackgen/prometheus image: scrape itself.
		global:
		  scrape_interval: 15s
		scrape_configs:
		  - job_name: prometheus
		    static_configs:
		      - targets: ["localhost:9090"]
	YAML
	# The classic UI, with Debian's symlinks into /usr/share/javascript
	# followed. moment-timezone is 214 MB of data: keep only its *.min.js.
	if [ -d "$web" ]; then
		cp -rL "$web/templates" "$r$web/"
		for d in "$web"/static/*; do
			[ "$(basename "$d")" = moment-timezone ] && continue
			cp -rL "$d" "$r$web/static/"
		done
		mkdir -p "$r$web/static/moment-timezone"
		find -L "$web/static/moment-timezone" -maxdepth 1 -name '*.min.js' -exec cp -L {} "$r$web/static/moment-timezone/" \;
	fi
}

fill_alertmanager() {
	local r=$1
	common_rootfs "$r"
	cp -L /usr/bin/prometheus-alertmanager "$r/bin/alertmanager"
	cp -L /usr/bin/amtool "$r/bin/"
	copy_libs "$r" /usr/bin/prometheus-alertmanager
	copy_libs "$r" /usr/bin/amtool
	# Debian's build reads its notification templates from here.
	mkdir -p "$r/etc/alertmanager" "$r/usr/share/prometheus/alertmanager/ui"
	cp -L /usr/share/prometheus/alertmanager/*.tmpl "$r/usr/share/prometheus/alertmanager/"
	cat >"$r/etc/alertmanager/alertmanager.yml" <<-'YAML'
		# Default config of the stackgen/alertmanager image: receive, send nothing.
		route:
		  receiver: "null"
		receivers:
		  - name: "null"
	YAML
}

PROM_TAG=$(debver prometheus)
AM_TAG=$(debver prometheus-alertmanager)
build_image "stackgen/prometheus:$PROM_TAG" "$ROOT/images/prometheus" fill_prometheus
build_image "stackgen/alertmanager:$AM_TAG" "$ROOT/images/alertmanager" fill_alertmanager

# --- 5. stackgen binary ------------------------------------------------------
if have go && [ -f "$ROOT/go.mod" ]; then
	log "building bin/stackgen (CGO_ENABLED=0)"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -buildvcs=auto -o bin/stackgen ./cmd/stackgen)
	# --- 6. a real Kubernetes API server for the kubernetes target's tests ---
	# kube-apiserver, kubectl, etcd and prometheus-operator built from the Go
	# module proxy into ~/.cache/stackgen/kube (idempotent; ~7 min cold).
	if [ "$TESTS" = 1 ]; then
		log "kube-apiserver, kubectl, etcd, prometheus-operator (scripts/kube-apiserver.sh build)"
		bash "$ROOT/scripts/kube-apiserver.sh" build
	fi
else
	log "go not found: skipping bin/stackgen and the Kubernetes test binaries (install Go 1.26+ to build them)"
fi

log "done in $(($(now) - START)) s: images stackgen/prometheus:$PROM_TAG stackgen/alertmanager:$AM_TAG; run $ROOT/bin/stackgen up -f examples/offline/stack.yaml"
