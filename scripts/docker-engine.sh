#!/usr/bin/env bash
# A Docker engine of the project's own: Debian's docker.io, dockerd on its own socket and data root,
# no bridge and no iptables (every build and container uses --network=host, loopback only).
#
#   scripts/docker-engine.sh up       install docker.io if missing, start dockerd, wait until it answers
#   scripts/docker-engine.sh down     stop the dockerd this script started
#   scripts/docker-engine.sh status   exit 0 and print the server version if the engine answers
#   scripts/docker-engine.sh env      print `export DOCKER_HOST=...` lines for a shell
#
# Idempotent: `up` on a running engine only checks it; `down` on a stopped one does nothing.
# Settings (environment): TWK_DOCKER_SOCK (default /run/twk-docker/docker.sock),
# TWK_DOCKER_ROOT (data root, default /var/lib/twk-docker; kept between runs and clones so the base
# image and the build cache survive), TWK_DOCKER_EXEC_ROOT (default: exec/ beside the socket),
# TWK_DOCKER_START_TIMEOUT (seconds, default 60), TWK_DOCKER_BUILD_CACHE (build cache cap, 6GB).
set -euo pipefail

SOCK="${TWK_DOCKER_SOCK:-/run/twk-docker/docker.sock}"
DATA_ROOT="${TWK_DOCKER_ROOT:-/var/lib/twk-docker}"
RUN_DIR="$(dirname "$SOCK")"
EXEC_ROOT="${TWK_DOCKER_EXEC_ROOT:-$RUN_DIR/exec}"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"
CONFIG="$RUN_DIR/daemon.json"
TIMEOUT="${TWK_DOCKER_START_TIMEOUT:-60}"
# Debian's client (20.10) talks to Debian's daemon and drives its built-in BuildKit without the
# buildx plugin; a newer client elsewhere on PATH would demand buildx for DOCKER_BUILDKIT=1.
DOCKER_CLI="${TWK_DOCKER_CLI:-/usr/bin/docker}"

die() {
  echo "docker-engine: $*" >&2
  exit 1
}

answers() {
  DOCKER_HOST="unix://$SOCK" "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

ensure_installed() {
  if [[ -x /usr/sbin/dockerd && -x /usr/bin/docker ]]; then
    return
  fi
  [[ $(id -u) -eq 0 ]] || die "docker.io is not installed and installing it needs root"
  echo "docker-engine: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends docker.io >/dev/null \
    || die "apt-get install docker.io failed"
  [[ -x /usr/sbin/dockerd ]] || die "docker.io installed but /usr/sbin/dockerd is missing"
}

alive() {
  # True if the process exists and is not a zombie (an orphan that nobody reaped yet).
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n $state && $state != Z && $state != X ]]
}

running_pid() {
  # The pid of the dockerd this script started, if it is still alive.
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ -n $pid ]] && alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] || return 1
  echo "$pid"
}

up() {
  if answers; then
    return 0
  fi
  ensure_installed
  [[ $(id -u) -eq 0 ]] || die "starting dockerd needs root"
  mkdir -p "$RUN_DIR" "$DATA_ROOT" "$EXEC_ROOT"
  # Own config (the system's /etc/docker/daemon.json is not read): the build cache is collected
  # least-recently-used first above a cap, so repeated test and bench runs don't fill the disk.
  cat >"$CONFIG" <<EOF_CONFIG
{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "${TWK_DOCKER_BUILD_CACHE:-6GB}"}}}
EOF_CONFIG
  if ! running_pid >/dev/null; then
    rm -f "$SOCK" "$PIDFILE"
    # setsid: the engine outlives the shell that started it; `down` stops it by its pid.
    setsid /usr/sbin/dockerd \
      --host "unix://$SOCK" \
      --config-file "$CONFIG" \
      --data-root "$DATA_ROOT" \
      --exec-root "$EXEC_ROOT" \
      --pidfile "$PIDFILE" \
      --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
      --storage-driver overlay2 \
      --log-level warn \
      </dev/null >>"$LOG" 2>&1 &
    disown || true
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until answers; do
    if ((SECONDS >= deadline)); then
      die "dockerd did not answer on $SOCK within ${TIMEOUT}s; last log lines: $(tail -n 3 "$LOG" 2>/dev/null | tr '\n' ' ')"
    fi
    sleep 0.5
  done
}

down() {
  local pid
  if ! pid="$(running_pid)"; then
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.3
  done
  rm -f "$PIDFILE"
}

status() {
  if answers; then
    echo "docker-engine: up on unix://$SOCK (server $(DOCKER_HOST="unix://$SOCK" "$DOCKER_CLI" version --format '{{.Server.Version}}'), data root $DATA_ROOT)"
  else
    echo "docker-engine: not answering on unix://$SOCK" >&2
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env)
    echo "export DOCKER_HOST=unix://$SOCK"
    echo "export DOCKER_BUILDKIT=1"
    ;;
  *) die "usage: $0 up|down|status|env" ;;
esac
