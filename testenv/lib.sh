# Shared settings and helpers of the testenv scripts. Sourced, never run.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings here are used by the scripts that source it

TESTENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'testenv: %s\n' "$*" >&2; }
die() {
  printf 'testenv: error: %s\n' "$*" >&2
  exit 1
}

# The one pinned Kubernetes release: the version k8s.io/kubernetes is required at in the
# build module. Bumping it there (see README.md) moves everything, cache dir included.
KUBE_VERSION="$(awk '($1 == "k8s.io/kubernetes") || ($1 == "require" && $2 == "k8s.io/kubernetes") { print ($1 == "require" ? $3 : $2) }' \
  "$TESTENV_DIR/build/kubernetes/go.mod" | head -n 1)"
[[ -n "$KUBE_VERSION" ]] || die "cannot read the k8s.io/kubernetes version from build/kubernetes/go.mod"

# Binaries live outside the repository, one directory per Kubernetes version, so that
# bumping the version never mixes binaries and a fresh clone reuses an earlier build.
TESTENV_CACHE="${TENANTRY_TESTENV_CACHE:-$HOME/.cache/tenantry-testenv}"
BIN_DIR="$TESTENV_CACHE/$KUBE_VERSION/bin"
# Everything of a running environment: pids, logs, certs, tokens, etcd data, kubeconfig.
RUN_DIR="${TENANTRY_TESTENV_RUN:-$HOME/.cache/tenantry-testenv/run}"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
PKI_DIR="$RUN_DIR/pki"
KUBECONFIG_PATH="$RUN_DIR/kubeconfig"

# Fixed loopback ports, all away from the defaults (2379/2380, 6443, 10257, 10259, ...) so
# that a developer's own kind, k3d or etcd on this machine never clashes with ours.
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
APISERVER_PORT=26443
CONTROLLER_MANAGER_PORT=20257
SCHEDULER_PORT=20259
KWOK_PORT=20247
# Services get virtual IPs from here; nothing routes them (there is no kube-proxy).
SERVICE_CIDR=10.96.0.0/16

# The components `up` starts, in start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# Fake nodes that kwok plays the kubelet for.
FAKE_NODES=(kwok-node-0 kwok-node-1)

# pid of a component that is running, or nothing.
running_pid() {
  local pidfile="$PID_DIR/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  # The pid must still be ours: alive and running the binary we started (which a rebuild
  # may have replaced on disk since: then the kernel calls it "... (deleted)").
  local exe
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    [[ "$exe" == "$BIN_DIR/$1" || "$exe" == "$BIN_DIR/$1 (deleted)" ]]; then
    echo "$pid"
  fi
}

# Fails with who holds a port when it is already taken.
check_port_free() {
  local port="$1" what="$2" holder
  if holder="$(ss -Htlnp "sport = :$port" 2>/dev/null)" && [[ -n "$holder" ]]; then
    die "port $port (for $what) in use by ${holder##*users:}; stop it or run testenv/down"
  fi
}

# Stops one component by its recorded pid: TERM, then KILL after 30 s (the API server
# drains its requests first, which takes a few seconds).
stop_component() {
  local name="$1" pid
  pid="$(running_pid "$name")"
  if [[ -n "$pid" ]]; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored TERM for 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_DIR/$name.pid"
}

# Polls a command until it succeeds, or fails naming what it waited for and the log to
# read. Fails at once when the component that writes that log (logs/<name>.log) exited.
wait_for() {
  local what="$1" seconds="$2" logfile="$3"
  shift 3
  local deadline=$((SECONDS + seconds)) component
  component="$(basename "$logfile" .log)"
  until "$@" >/dev/null 2>&1; do
    if [[ -f "$PID_DIR/$component.pid" && -z "$(running_pid "$component")" ]]; then
      log "last lines of $logfile:"
      tail -n 30 "$logfile" >&2
      die "$component exited while waiting for $what; see $logfile"
    fi
    if ((SECONDS > deadline)); then
      [[ -n "$logfile" && -f "$logfile" ]] && { log "last lines of $logfile:"; tail -n 30 "$logfile" >&2; }
      die "gave up after ${seconds}s waiting for $what"
    fi
    sleep 0.5
  done
}

# kubectl as the cluster admin.
kc() { kubectl --kubeconfig="$KUBECONFIG_PATH" --context=admin "$@"; }
